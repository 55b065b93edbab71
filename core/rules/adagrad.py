"""Adagrad reference rule (Duchi, Hazan & Singer, 2011)."""

from __future__ import annotations

import torch

from . import fused
from .base import (Hyperparameters, Rule, RuleOutput, Term, as_tensor, implementation, l2_decay,
                   real, restore, scalar, scale, signed_gradient, step_counter, torch_scalar)
from .limits import FUSED, IMPLEMENTATION, LR, NON_NEGATIVE


class Adagrad(Rule):
    """Adagrad, following torch's single-tensor dense path (torch/optim/adagrad.py, torch 2.13).

        g ← −∇ if maximize else ∇;  t ← t + 1;  g ← g + λθ
        γ̃ = γ / (1 + (t − 1)·η)                 (lr_decay η)
        s ← s + g²                               (s starts at initial_accumulator_value)
        θ ← θ − γ̃ · g / (√s + ε)

    torch creates the state of every parameter when the optimizer is built, so a parameter
    without a gradient still has `step` and `sum`. With `foreach=True` torch computes
    θ + (g·(−γ̃)) / d, rounding −γ̃ to the parameter's dtype; `fused=True` follows the fused
    kernel (see `fused.adagrad`).
    """

    name = "adagrad"
    title = "Adagrad"
    optimizer_class = torch.optim.Adagrad
    hyperparameters = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps",
                       "maximize")
    panels = (("Accumulator", ("sum",)), ("Update", ("clr", "std", "update")))
    limits = {"lr": LR, "lr_decay": NON_NEGATIVE, "weight_decay": NON_NEGATIVE,
              "initial_accumulator_value": NON_NEGATIVE, "eps": NON_NEGATIVE,
              **IMPLEMENTATION, **FUSED}

    def initial_state(self, param: torch.Tensor, group: Hyperparameters) -> dict[str, torch.Tensor]:
        value = self.complete(group)["initial_accumulator_value"]
        # torch fills both the real and the imaginary part of a complex accumulator.
        fill = complex(value, value) if param.is_complex() else value
        return {"step": step_counter(param, group),
                "sum": torch.full_like(param, fill, memory_format=torch.preserve_format)}

    def step(self, param, grad, state, group) -> RuleOutput:
        how = implementation(param, group)
        if how == "fused" and self.flavour == "torch":
            return fused.adagrad(param, grad, state, group)
        textbook, foreach, original = self.flavour == "textbook", how == "foreach", param
        lr = scalar(group["lr"]) if textbook else torch_scalar(group["lr"])
        step = state["step"] + 1
        t = step.item()
        if foreach:
            param, grad, state = real(param), real(grad), {k: real(v) for k, v in state.items()}

        g, first = signed_gradient(grad, group)
        terms = [first]
        g = real(l2_decay(g, param, group["weight_decay"], terms))
        param, previous = real(param), real(state["sum"])
        clr = lr / (1 + (t - 1) * group["lr_decay"])
        terms.append(Term("clr", "γ̃", "γ / (1 + (t − 1)·η)", as_tensor(clr, param)))

        if textbook:
            total = previous + g * g
            std = total.sqrt() + group["eps"]
            after = param - clr * g / std
        else:
            total = previous.addcmul(g, g, value=1)
            std = total.sqrt().add(group["eps"])
            if foreach:
                # foreach multiplies g by −γ̃ first, then divides by d. It multiplies in place
                # (rounding −γ̃ to the dtype) only where weight decay or maximize already
                # copied the gradient; otherwise out of place, with −γ̃ unrounded.
                in_place = group["weight_decay"] != 0 or group["maximize"]
                after = param.addcdiv(scale(g, -clr, in_place), std)
            else:
                after = param.addcdiv(g, std, value=-clr)
        terms += [Term("sum", "s", "s + g²", total), Term("std", "d", "√s + ε", std),
                  Term("update", "Δθ", "−γ̃·g / d", after - param)]
        after = restore(after, original)
        return RuleOutput(tuple(terms), {"step": step, "sum": restore(total, original)}, after,
                          after - original)
