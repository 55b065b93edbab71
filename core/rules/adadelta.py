"""Adadelta reference rule (Zeiler, 2012)."""

from __future__ import annotations

import torch

from .base import (Hyperparameters, Rule, RuleOutput, Term, implementation, l2_decay, real,
                   restore, scalar, scale, signed_gradient, step_counter, torch_scalar)
from .limits import CAPTURABLE, IMPLEMENTATION, LR, NON_NEGATIVE, UNIT


class Adadelta(Rule):
    """Adadelta, following torch's single-tensor path (torch/optim/adadelta.py, torch 2.13).

        g ← −∇ if maximize else ∇;  t ← t + 1;  g ← g + λθ
        v ← ρ·v + (1 − ρ)·g²                     (square_avg)
        Δx = √(u + ε) / √(v + ε) · g
        u ← ρ·u + (1 − ρ)·Δx²                    (acc_delta)
        θ ← θ − γ·Δx

    torch computes Δx as (√(u + ε) / √(v + ε)) · g, dividing before it multiplies. With
    `foreach=True` the products ρ·v and ρ·u round ρ to the parameter's dtype first.
    """

    name = "adadelta"
    title = "Adadelta"
    optimizer_class = torch.optim.Adadelta
    hyperparameters = ("lr", "rho", "eps", "weight_decay", "maximize")
    panels = (("Running averages", ("square_avg", "acc_delta")),
              ("Update", ("std", "delta", "update")))
    limits = {"lr": LR, "rho": UNIT, "eps": NON_NEGATIVE, "weight_decay": NON_NEGATIVE,
              **IMPLEMENTATION, **CAPTURABLE}

    def initial_state(self, param: torch.Tensor, group: Hyperparameters) -> dict[str, torch.Tensor]:
        return {"step": step_counter(param, group),
                "square_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
                "acc_delta": torch.zeros_like(param, memory_format=torch.preserve_format)}

    def step(self, param, grad, state, group) -> RuleOutput:
        textbook, original = self.flavour == "textbook", param
        foreach = implementation(param, group) == "foreach"
        lr = scalar(group["lr"]) if textbook else torch_scalar(group["lr"])
        rho, eps = group["rho"], group["eps"]
        step = state["step"] + 1
        if foreach:
            param, grad, state = real(param), real(grad), {k: real(v) for k, v in state.items()}

        g, first = signed_gradient(grad, group)
        terms = [first]
        g = real(l2_decay(g, param, group["weight_decay"], terms))
        square_avg, acc_delta = real(state["square_avg"]), real(state["acc_delta"])
        if textbook:
            square_avg = rho * square_avg + (1 - rho) * g * g
            std = (square_avg + eps).sqrt()
            delta = (acc_delta + eps).sqrt() * g / std
            acc_delta = rho * acc_delta + (1 - rho) * delta * delta
        else:
            square_avg = scale(square_avg, rho, foreach).addcmul(g, g, value=1 - rho)
            std = square_avg.add(eps).sqrt()
            delta = acc_delta.add(eps).sqrt().div(std).mul(g)
            acc_delta = scale(acc_delta, rho, foreach).addcmul(delta, delta, value=1 - rho)
        # The single-tensor path adds Δx to the complex parameter, not to its real view.
        after = param - lr * restore(delta, param) if textbook else \
            param.add(restore(delta, param), alpha=-lr)
        after = restore(after, original)
        terms += [Term("square_avg", "v", "ρ·v + (1 − ρ)·g²", square_avg),
                  Term("std", "√(v + ε)", "√(v + ε)", std),
                  Term("delta", "Δx", "√(u + ε) / √(v + ε) · g", delta),
                  Term("acc_delta", "u", "ρ·u + (1 − ρ)·Δx²", acc_delta),
                  Term("update", "Δθ", "−γ·Δx", after - original)]
        new_state = {"step": step, "square_avg": restore(square_avg, original),
                     "acc_delta": restore(acc_delta, original)}
        return RuleOutput(tuple(terms), new_state, after, after - original)
