"""Adamax reference rule: Adam under the infinity norm (Kingma & Ba, 2015, section 7.1)."""

from __future__ import annotations

import torch

from .base import (Hyperparameters, Rule, RuleOutput, Term, as_tensor, implementation, l2_decay,
                   real, restore, scalar, scale, signed_gradient, step_counter, torch_scalar)
from .limits import BETAS, CAPTURABLE, IMPLEMENTATION, LR, NON_NEGATIVE


class Adamax(Rule):
    """Adamax, following torch's single-tensor path (torch/optim/adamax.py, torch 2.13).

        g ← −∇ if maximize else ∇;  t ← t + 1;  g ← g + λθ
        m ← lerp(m, g, 1 − β1)                   (textbook: β1·m + (1 − β1)·g)
        u ← max(β2·u, |g| + ε)                   (exp_inf; the paper has no ε here)
        θ ← θ − (γ / (1 − β1^t)) · m / u

    With `foreach=True` the product β2·u rounds β2 to the parameter's dtype first.
    """

    name = "adamax"
    title = "Adamax"
    optimizer_class = torch.optim.Adamax
    hyperparameters = ("lr", "betas", "eps", "weight_decay", "maximize")
    panels = (("Moments", ("exp_avg", "exp_inf")), ("Update", ("clr", "update")))
    limits = {"lr": LR, "betas": BETAS, "eps": NON_NEGATIVE, "weight_decay": NON_NEGATIVE,
              **IMPLEMENTATION, **CAPTURABLE}

    def initial_state(self, param: torch.Tensor, group: Hyperparameters) -> dict[str, torch.Tensor]:
        return {"step": step_counter(param, group),
                "exp_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
                "exp_inf": torch.zeros_like(param, memory_format=torch.preserve_format)}

    def step(self, param, grad, state, group) -> RuleOutput:
        textbook, original = self.flavour == "textbook", param
        foreach = implementation(param, group) == "foreach"
        lr = scalar(group["lr"]) if textbook else torch_scalar(group["lr"])
        (beta1, beta2), eps = group["betas"], group["eps"]
        step = state["step"] + 1
        t = step.item()
        if foreach:
            param, grad, state = real(param), real(grad), {k: real(v) for k, v in state.items()}

        g, first = signed_gradient(grad, group)
        terms = [first]
        g = real(l2_decay(g, param, group["weight_decay"], terms))
        param, m, u = real(param), real(state["exp_avg"]), real(state["exp_inf"])
        m = beta1 * m + (1 - beta1) * g if textbook else m.lerp(g, 1 - beta1)
        u = torch.maximum(scale(u, beta2, foreach), g.abs().add(eps))
        clr = lr / (1 - beta1**t)
        after = param - clr * m / u if textbook else param.addcdiv(m, u, value=-clr)
        terms += [Term("exp_avg", "m", "β1·m + (1 − β1)·g", m),
                  Term("exp_inf", "u", "max(β2·u, |g| + ε)", u),
                  Term("clr", "α", "γ / (1 − β1^t)", as_tensor(clr, param)),
                  Term("update", "Δθ", "−α·m / u", after - param)]
        after = restore(after, original)
        new_state = {"step": step, "exp_avg": restore(m, original),
                     "exp_inf": restore(u, original)}
        return RuleOutput(tuple(terms), new_state, after, after - original)
