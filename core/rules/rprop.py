"""Rprop reference rule: resilient backpropagation (Riedmiller & Braun, 1993)."""

from __future__ import annotations

import torch

from .base import (Hyperparameters, Rule, RuleOutput, Term, real, restore, signed_gradient,
                   step_counter, torch_scalar)
from .limits import CAPTURABLE, IMPLEMENTATION, LR, NON_NEGATIVE, Pair, Real


class Rprop(Rule):
    """Rprop, following torch's single-tensor path (torch/optim/rprop.py, torch 2.13), which
    is the iRprop− variant: after a sign change the gradient counts as zero.

        g ← −∇ if maximize else ∇;  t ← t + 1;  s = sign(g·g_prev)
        η ← clamp(η·η+ where s > 0, η·η− where s < 0, η where s = 0;  η_min, η_max)
        g ← 0 where s < 0
        θ ← θ − sign(g)·η;  g_prev ← g

    Each element's step size η starts at the learning rate; `lr` is read only then. The
    foreach implementation computes the same values.
    """

    name = "rprop"
    title = "Rprop"
    optimizer_class = torch.optim.Rprop
    hyperparameters = ("lr", "etas", "step_sizes", "maximize")
    panels = (("Step sizes", ("sign", "step_size")), ("Update", ("prev", "update")))
    limits = {"lr": LR,
              "etas": Pair(Real(), Real(), lambda minus, plus: 0 < minus < 1 < plus,
                           "0 < etaminus < 1 < etaplus"),
              "step_sizes": Pair(NON_NEGATIVE, Real(), lambda low, high: low <= high,
                                 "min <= max"),
              **IMPLEMENTATION, **CAPTURABLE}

    def initial_state(self, param: torch.Tensor, group: Hyperparameters) -> dict[str, torch.Tensor]:
        lr = torch_scalar(self.complete(group)["lr"])
        # A complex parameter's real and imaginary parts each start at the learning rate.
        fill = complex(lr, lr) if param.is_complex() else lr
        return {"step": step_counter(param, group),
                "prev": torch.zeros_like(param, memory_format=torch.preserve_format),
                "step_size": torch.full_like(param, fill)}

    def step(self, param, grad, state, group) -> RuleOutput:
        original, param, grad = param, real(param), real(grad)
        state = {key: real(value) for key, value in state.items()}
        (etaminus, etaplus), (step_size_min, step_size_max) = group["etas"], group["step_sizes"]
        g, first = signed_gradient(grad, group)
        terms = [first]

        # The paper's case analysis and torch's masked assignments are the same arithmetic,
        # so both flavours share this code.
        factor = g.mul(state["prev"]).sign()
        factor[factor.gt(0)] = etaplus
        factor[factor.lt(0)] = etaminus
        factor[factor.eq(0)] = 1
        step_size = state["step_size"].mul(factor).clamp(step_size_min, step_size_max)
        g = g.clone(memory_format=torch.preserve_format)
        g[factor.eq(etaminus)] = 0
        after = param.addcmul(g.sign(), step_size, value=-1)
        terms += [Term("sign", "s", "sign(g·g_prev) → η+, η− or 1", factor),
                  Term("step_size", "η", "clamp(η·s, η_min, η_max)", step_size),
                  Term("prev", "g_prev", "g, or 0 where the sign changed", g),
                  Term("update", "Δθ", "−sign(g)·η", after - param)]
        after = restore(after, original)
        new_state = {"step": state["step"] + 1, "prev": restore(g, original),
                     "step_size": restore(step_size, original)}
        return RuleOutput(tuple(terms), new_state, after, after - original)
