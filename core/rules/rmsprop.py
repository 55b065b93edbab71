"""RMSprop reference rule (Hinton, 2012), optionally centered (Graves, 2013)."""

from __future__ import annotations

import torch

from .base import (Hyperparameters, Rule, RuleOutput, Term, implementation, l2_decay, real,
                   restore, scalar, scale, signed_gradient, step_counter, torch_scalar)
from .limits import CAPTURABLE, IMPLEMENTATION, LR, NON_NEGATIVE, UNIT, Flag


class RMSprop(Rule):
    """RMSprop, following torch's single-tensor path (torch/optim/rmsprop.py, torch 2.13).

        g ← −∇ if maximize else ∇;  t ← t + 1;  g ← g + λθ
        v ← α·v + (1 − α)·g²                     (square_avg)
        ḡ ← lerp(ḡ, g, 1 − α);  ṽ = v − ḡ²      (centered only: grad_avg)
        d = √ṽ + ε                               (√v + ε when not centered)
        b ← μ·b + g / d;  θ ← θ − γ·b            (momentum μ > 0)
        θ ← θ − γ·g / d                          (otherwise)

    With `foreach=True` the products α·v and μ·b round their factor to the parameter's dtype.
    """

    name = "rmsprop"
    title = "RMSprop"
    optimizer_class = torch.optim.RMSprop
    hyperparameters = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")
    panels = (("Square average", ("square_avg", "grad_avg", "avg")),
              ("Momentum", ("momentum_buffer",)), ("Update", ("update",)))
    limits = {"lr": LR, "alpha": UNIT, "eps": NON_NEGATIVE, "weight_decay": NON_NEGATIVE,
              "momentum": NON_NEGATIVE, "centered": Flag(), **IMPLEMENTATION, **CAPTURABLE}

    def initial_state(self, param: torch.Tensor, group: Hyperparameters) -> dict[str, torch.Tensor]:
        group = self.complete(group)
        state = {"step": step_counter(param, group),
                 "square_avg": torch.zeros_like(param, memory_format=torch.preserve_format)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        if group["centered"]:
            state["grad_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return state

    def step(self, param, grad, state, group) -> RuleOutput:
        textbook, original = self.flavour == "textbook", param
        foreach = implementation(param, group) == "foreach"
        lr = scalar(group["lr"]) if textbook else torch_scalar(group["lr"])
        alpha, eps, momentum = group["alpha"], group["eps"], group["momentum"]
        new_state = {"step": state["step"] + 1}
        if foreach:
            param, grad, state = real(param), real(grad), {k: real(v) for k, v in state.items()}

        g, first = signed_gradient(grad, group)
        terms = [first]
        g = real(l2_decay(g, param, group["weight_decay"], terms))
        param = real(param)
        square_avg = scale(real(state["square_avg"]), alpha, foreach).addcmul(g, g, value=1 - alpha)
        new_state["square_avg"] = square_avg
        terms.append(Term("square_avg", "v", "α·v + (1 − α)·g²", square_avg))
        avg = self._denominator(square_avg, g, state, group, new_state, terms)

        if momentum > 0:
            buf = real(state["momentum_buffer"])
            if textbook:
                buf = momentum * buf + g / avg
            else:
                buf = scale(buf, momentum, foreach).addcdiv(g, avg)
            new_state["momentum_buffer"] = buf
            terms.append(Term("momentum_buffer", "b", "μ·b + g / d", buf))
            after = param - lr * buf if textbook else param.add(buf, alpha=-lr)
        else:
            after = param - lr * g / avg if textbook else param.addcdiv(g, avg, value=-lr)
        terms.append(Term("update", "Δθ", "−γ·b" if momentum > 0 else "−γ·g / d", after - param))
        after = restore(after, original)
        new_state = {k: restore(v, original) for k, v in new_state.items()}
        return RuleOutput(tuple(terms), new_state, after, after - original)

    def _denominator(self, square_avg, g, state, group, new_state, terms) -> torch.Tensor:
        """Return d = √(v − ḡ²) + ε when centered (updating ḡ), else √v + ε."""
        alpha, eps = group["alpha"], group["eps"]
        if not group["centered"]:
            avg = square_avg.sqrt().add(eps)
            terms.append(Term("avg", "d", "√v + ε", avg))
            return avg
        if self.flavour == "textbook":
            grad_avg = alpha * real(state["grad_avg"]) + (1 - alpha) * g
            avg = (square_avg - grad_avg * grad_avg).sqrt() + eps
        else:
            grad_avg = real(state["grad_avg"]).lerp(g, 1 - alpha)
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt().add(eps)
        new_state["grad_avg"] = grad_avg
        terms += [Term("grad_avg", "ḡ", "lerp(ḡ, g, 1 − α)", grad_avg),
                  Term("avg", "d", "√(v − ḡ²) + ε", avg)]
        return avg
