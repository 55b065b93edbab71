"""Adam and AdamW reference rules (Kingma & Ba, 2015; Loshchilov & Hutter, 2019)."""

from __future__ import annotations

from typing import Any

import torch

from . import fused
from .base import (Derived, DerivedTerm, Hyperparameters, Rule, RuleOutput, Term,
                   apply_weight_decay, as_tensor,
                   implementation, real, restore, scalar, scale, signed_gradient, step_counter,
                   torch_scalar)
from .limits import BETAS, CAPTURABLE, FUSED, IMPLEMENTATION, LR, NON_NEGATIVE, Flag, Pair


class Adam(Rule):
    """Adam, following torch's single-tensor path (torch/optim/adam.py, torch 2.4 to 2.13).

        g ← −∇ if maximize else ∇;  t ← t + 1
        g ← g + λθ  (L2)   or   θ ← θ(1 − γλ)  (decoupled)
        m ← lerp(m, g, 1 − β1)               (textbook: β1·m + (1 − β1)·g)
        v ← β2·v + (1 − β2)·g²
        v_max ← max(v_max, v)                (amsgrad; torch keeps the raw v, not v̂)
        m̂ = m / (1 − β1^t);  v̂ = v / (1 − β2^t)
        torch:    θ ← θ − (γ / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
        textbook: θ ← θ − γ · m̂ / (√v̂ + ε)

    Tensor betas follow torch too: β1 is cast to the parameter's dtype for the lerp weight,
    while the bias corrections use the tensors as given. With `foreach=True` the scalar
    products round their factor to the parameter's dtype first; `fused=True` follows the
    fused kernel (see `fused.adam`).
    """

    name = "adam"
    title = "Adam"
    optimizer_class = torch.optim.Adam
    hyperparameters = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize",
                       "decoupled_weight_decay")
    panels = (("Moments", ("m", "v", "v_max")), ("Bias-corrected", ("m_hat", "v_hat")),
              ("Update", ("denom", "step_size", "update")))
    limits = {"lr": LR, "betas": Pair(BETAS.first, BETAS.second, tensors=True),
              "eps": NON_NEGATIVE, "weight_decay": NON_NEGATIVE, "amsgrad": Flag(),
              "decoupled_weight_decay": Flag(), **IMPLEMENTATION, **CAPTURABLE, **FUSED}

    def initial_state(self, param: torch.Tensor, group: Hyperparameters) -> dict[str, torch.Tensor]:
        state = {
            "step": step_counter(param, group),
            "exp_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
            "exp_avg_sq": torch.zeros_like(param, memory_format=torch.preserve_format),
        }
        if group.get("amsgrad", False):
            state["max_exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return state

    def decoupled(self, group: Hyperparameters) -> bool:
        """Whether weight decay scales the parameter instead of adding to the gradient."""
        return bool(group.get("decoupled_weight_decay", False))

    def step(self, param, grad, state, group) -> RuleOutput:
        how = implementation(param, group)
        if how == "fused" and self.flavour == "torch":
            return fused.adam(param, grad, state, group, self.decoupled(group))
        textbook, foreach, original = self.flavour == "textbook", how == "foreach", param
        read = scalar if textbook else torch_scalar
        lr, beta1, beta2 = read(group["lr"]), read(group["betas"][0]), read(group["betas"][1])
        eps, weight_decay = group["eps"], group.get("weight_decay", 0)
        if foreach:
            # foreach views complex tensors as real before any arithmetic, weight decay included.
            param, grad, state = real(param), real(grad), {k: real(v) for k, v in state.items()}

        g, first = signed_gradient(grad, group)
        terms: list[Term] = [first]
        step = state["step"] + 1
        t = step.item()
        theta, g = apply_weight_decay(param, g, lr, weight_decay, self.decoupled(group), foreach,
                                      terms)
        theta, g = real(theta), real(g)

        if textbook:
            m = real(state["exp_avg"]).mul(beta1).add(g, alpha=1 - beta1)
            m_text = "β1·m + (1 − β1)·g"
        else:
            weight = 1 - (beta1.to(param.device, theta.dtype)
                          if isinstance(beta1, torch.Tensor) else beta1)
            m = real(state["exp_avg"]).lerp(g, weight)
            m_text = "lerp(m, g, 1 − β1) = m + (1 − β1)·(g − m)"
        # In place on the new tensor `scale` returns: the same arithmetic, one allocation less.
        v = scale(real(state["exp_avg_sq"]), beta2, foreach).addcmul_(g, g, value=1 - beta2)
        terms += [Term("m", "m", m_text, m), Term("v", "v", "β2·v + (1 − β2)·g²", v)]
        new_state = {"step": step, "exp_avg": m, "exp_avg_sq": v}
        v_used = v
        if group.get("amsgrad", False):
            v_used = torch.maximum(real(state["max_exp_avg_sq"]), v)
            new_state["max_exp_avg_sq"] = v_used
            terms.append(Term("v_max", "v_max", "max(v_max, v)", v_used))

        after = self._apply(theta, m, v_used, t, (lr, beta1, beta2, eps), terms,
                            amsgrad=group.get("amsgrad", False))
        new_state = {k: restore(v, original) for k, v in new_state.items()}
        after = restore(after, original)
        return RuleOutput(tuple(terms), new_state, after, Derived(torch.sub, (after, original)))

    def _apply(self, theta, m, v_used, t, scalars, terms, amsgrad=False) -> torch.Tensor:
        """Append the bias-correction and update terms; return θ after the step."""
        lr, beta1, beta2, eps = scalars
        bias_correction1 = 1 - beta1**t
        bias_correction2 = 1 - beta2**t
        corrected = "v_max / (1 − β2^t)" if amsgrad else "v / (1 − β2^t)"

        if self.flavour == "textbook":
            m_hat, v_hat = m / bias_correction1, v_used / bias_correction2
            terms += [Term("m_hat", "m̂", "m / (1 − β1^t)", m_hat),
                      Term("v_hat", "v̂", corrected, v_hat)]
            denom = v_hat.sqrt().add(eps)
            update = -lr * m_hat / denom
            terms += [Term("denom", "d", "√v̂ + ε", denom),
                      Term("step_size", "α", "γ", as_tensor(lr, theta)),
                      Term("update", "Δθ", "−α·m̂ / d", update)]
            return theta + update
        # The torch order computes θ without m̂, v̂ or Δθ, so those are derived on each read.
        terms += [DerivedTerm("m_hat", "m̂", "m / (1 − β1^t)", torch.div, (m, bias_correction1)),
                  DerivedTerm("v_hat", "v̂", corrected, torch.div, (v_used, bias_correction2))]
        # In place on the new tensor sqrt returns: torch's own order, one allocation less.
        denom = v_used.sqrt().div_(bias_correction2**0.5).add_(eps)
        step_size = lr / bias_correction1
        terms += [Term("denom", "d", "√v / √(1 − β2^t) + ε  (torch order)", denom),
                  Term("step_size", "α", "γ / (1 − β1^t)", as_tensor(step_size, theta)),
                  DerivedTerm("update", "Δθ", "−α·m / d", scaled_quotient,
                              (theta, m, denom, -step_size))]
        return theta.addcdiv(m, denom, value=-step_size)


def scaled_quotient(like: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor,
                    factor: Any) -> torch.Tensor:
    """Return factor·numerator/denominator as torch's addcdiv rounds it, added to zeros like `like`."""
    return torch.zeros_like(like).addcdiv(numerator, denominator, value=factor)


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay, θ ← θ(1 − γλ) before the Adam update
    (torch/optim/adamw.py, torch 2.13, which runs Adam's code with decoupled_weight_decay)."""

    name = "adamw"
    title = "AdamW"
    optimizer_class = torch.optim.AdamW
    hyperparameters = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize")
    limits = {key: limit for key, limit in Adam.limits.items()
              if key != "decoupled_weight_decay"}

    def decoupled(self, group: Hyperparameters) -> bool:
        return True
