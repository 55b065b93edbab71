"""RAdam reference rule: Adam with variance rectification (Liu et al., 2020)."""

from __future__ import annotations

import torch

from .base import (Hyperparameters, Rule, RuleOutput, Term, apply_weight_decay, as_tensor,
                   implementation, real, restore, scalar, scale, signed_gradient, step_counter,
                   torch_scalar)
from .limits import BETAS, CAPTURABLE, IMPLEMENTATION, LR, NON_NEGATIVE, Flag

RECTIFICATION_THRESHOLD = 5.0
"""The update is rectified only where ρ_t exceeds this (torch 2.13 and the paper's code)."""


class RAdam(Rule):
    """RAdam, following torch's single-tensor path (torch/optim/radam.py, torch 2.13).

        g ← −∇ if maximize else ∇;  t ← t + 1
        g ← g + λθ  (L2)   or   θ ← θ(1 − γλ)  (decoupled_weight_decay)
        m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g²;  m̂ = m / (1 − β1^t)
        ρ∞ = 2/(1 − β2) − 1;  ρ_t = ρ∞ − 2t·β2^t / (1 − β2^t)
        if ρ_t > 5:  l = √(1 − β2^t) / (√v + ε)
                     r = √((ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t))
                     θ ← θ − γ·m̂·l·r
        else:        θ ← θ − γ·m̂

    With `foreach=True` torch computes θ + m·(1 / ((√v + ε) / c) + u) instead (see
    `_foreach_update`), and the scalar products round their factor to the parameter's dtype.
    """

    name = "radam"
    title = "RAdam"
    optimizer_class = torch.optim.RAdam
    hyperparameters = ("lr", "betas", "eps", "weight_decay", "decoupled_weight_decay", "maximize")
    panels = (("Moments", ("m", "v", "m_hat")),
              ("Rectification", ("rho_t", "rectified", "adaptive_lr", "rect")),
              ("Update", ("update",)))
    limits = {"lr": LR, "betas": BETAS, "eps": NON_NEGATIVE, "weight_decay": NON_NEGATIVE,
              "decoupled_weight_decay": Flag(), **IMPLEMENTATION, **CAPTURABLE}

    def initial_state(self, param: torch.Tensor, group: Hyperparameters) -> dict[str, torch.Tensor]:
        return {"step": step_counter(param, group),
                "exp_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(param, memory_format=torch.preserve_format)}

    def step(self, param, grad, state, group) -> RuleOutput:
        textbook, original = self.flavour == "textbook", param
        foreach = implementation(param, group) == "foreach"
        lr = scalar(group["lr"]) if textbook else torch_scalar(group["lr"])
        (beta1, beta2), eps, weight_decay = group["betas"], group["eps"], group["weight_decay"]
        step = state["step"] + 1
        t = step.item()
        param, grad = real(param), real(grad)

        g, first = signed_gradient(grad, group)
        terms = [first]
        decoupled = group.get("decoupled_weight_decay", False)
        theta, g = apply_weight_decay(param, g, lr, weight_decay, decoupled, foreach, terms)

        m, v = real(state["exp_avg"]), real(state["exp_avg_sq"])
        m = beta1 * m + (1 - beta1) * g if textbook else m.lerp(g, 1 - beta1)
        v = scale(v, beta2, foreach).addcmul(g, g, value=1 - beta2)
        bias_correction1, bias_correction2 = 1 - beta1**t, 1 - beta2**t
        m_hat = m / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2**t) / bias_correction2
        rectified = rho_t > RECTIFICATION_THRESHOLD
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5 if rectified else 0
        terms += [Term("m", "m", "β1·m + (1 − β1)·g", m), Term("v", "v", "β2·v + (1 − β2)·g²", v),
                  Term("m_hat", "m̂", "m / (1 − β1^t)", m_hat),
                  Term("rho_t", "ρ_t", "ρ∞ − 2t·β2^t / (1 − β2^t)", as_tensor(rho_t, param)),
                  Term("rectified", "[ρ_t > 5]", "1 when ρ_t > 5 (rectified), else 0",
                       as_tensor(float(rectified), param)),
                  Term("rect", "r", "√((ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t))",
                       as_tensor(rect, param))]

        if foreach and not textbook:
            after = self._foreach_update(theta, m, v, (lr, eps, rect),
                                         (bias_correction1, bias_correction2))
        else:
            if rectified:
                # torch writes a / tensor, which Tensor.__rtruediv__ computes as reciprocal·a.
                adaptive_lr = bias_correction2**0.5 / v.sqrt().add(eps)
                terms.append(Term("adaptive_lr", "l", "√(1 − β2^t) / (√v + ε)", adaptive_lr))
                step_direction = m_hat * lr * adaptive_lr * rect
            else:
                step_direction = m_hat * lr
            after = theta - step_direction if textbook else theta.add(step_direction, alpha=-1.0)
        terms.append(Term("update", "Δθ", "−γ·m̂·l·r" if rectified else "−γ·m̂", after - theta))
        after = restore(after, original)
        new_state = {"step": step, "exp_avg": restore(m, original),
                     "exp_avg_sq": restore(v, original)}
        return RuleOutput(tuple(terms), new_state, after, after - original)

    @staticmethod
    def _foreach_update(theta, m, v, scalars, corrections) -> torch.Tensor:
        """Return θ after torch's foreach arithmetic: θ + m·(1 / ((√v + ε) / c) + u), with
        c = −√(1 − β2^t)·γr / (1 − β1^t), and u = −γ / (1 − β1^t) only when unrectified."""
        lr, eps, rect = scalars
        bias_correction1, bias_correction2 = corrections
        unrectified = 0 if rect > 0 else 1.0
        unrectified_step = (lr * unrectified / bias_correction1) * -1
        # Unrectified, c is −0.0: the division gives −inf and its reciprocal −0.0 drops out.
        rectified_scale = (bias_correction2**0.5) * (lr * rect / bias_correction1) * -1
        buffer = v.sqrt().add(eps).div(rectified_scale).reciprocal().add(unrectified_step)
        return theta.addcmul(m, buffer)
