"""Adam and AdamW reference rules (Kingma & Ba, 2015; Loshchilov & Hutter, 2019)."""

from __future__ import annotations

import torch

from .base import Hyperparameters, Rule, RuleOutput, Term, as_tensor


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
    """

    name = "adam"
    title = "Adam"
    optimizer_class = torch.optim.Adam
    hyperparameters = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize",
                       "decoupled_weight_decay")
    panels = (("Moments", ("m", "v", "v_max")), ("Bias-corrected", ("m_hat", "v_hat")),
              ("Update", ("denom", "step_size", "update")))

    def initial_state(self, param: torch.Tensor, group: Hyperparameters) -> dict[str, torch.Tensor]:
        state = {
            "step": torch.tensor(0.0, dtype=torch.float32),
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
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad = group.get("weight_decay", 0), group.get("amsgrad", False)
        textbook = self.flavour == "textbook"
        terms: list[Term] = []

        g = -grad if group.get("maximize", False) else grad
        terms.append(Term("g", "g", "−∇L (maximize)" if group.get("maximize") else "∇L", g))
        step = state["step"] + 1
        t = step.item()
        theta = param
        if weight_decay != 0:
            if self.decoupled(group):
                theta = param.mul(1 - lr * weight_decay)
                terms.append(Term("decayed", "θ'", "θ·(1 − γλ)", theta))
            else:
                g = g.add(param, alpha=weight_decay)
                terms.append(Term("g_decayed", "g'", "g + λ·θ", g))

        if textbook:
            m = state["exp_avg"].mul(beta1).add(g, alpha=1 - beta1)
            m_text = "β1·m + (1 − β1)·g"
        else:
            m = state["exp_avg"].lerp(g, 1 - beta1)
            m_text = "lerp(m, g, 1 − β1) = m + (1 − β1)·(g − m)"
        v = state["exp_avg_sq"].mul(beta2).addcmul(g, g, value=1 - beta2)
        terms += [Term("m", "m", m_text, m), Term("v", "v", "β2·v + (1 − β2)·g²", v)]
        new_state = {"step": step, "exp_avg": m, "exp_avg_sq": v}
        v_used = v
        if amsgrad:
            v_used = torch.maximum(state["max_exp_avg_sq"], v)
            new_state["max_exp_avg_sq"] = v_used
            terms.append(Term("v_max", "v_max", "max(v_max, v)", v_used))

        bias_correction1 = 1 - beta1**t
        bias_correction2 = 1 - beta2**t
        m_hat = m / bias_correction1
        v_hat = v_used / bias_correction2
        terms += [Term("m_hat", "m̂", "m / (1 − β1^t)", m_hat),
                  Term("v_hat", "v̂", "v / (1 − β2^t)" if not amsgrad else "v_max / (1 − β2^t)",
                       v_hat)]

        if textbook:
            denom = v_hat.sqrt().add(eps)
            step_size = lr
            update = -step_size * m_hat / denom
            terms += [Term("denom", "d", "√v̂ + ε", denom),
                      Term("step_size", "α", "γ", as_tensor(step_size, param)),
                      Term("update", "Δθ", "−α·m̂ / d", update)]
            after = theta + update
        else:
            denom = (v_used.sqrt() / bias_correction2**0.5).add(eps)
            step_size = lr / bias_correction1
            update = torch.zeros_like(theta).addcdiv(m, denom, value=-step_size)
            terms += [Term("denom", "d", "√v / √(1 − β2^t) + ε  (torch order)", denom),
                      Term("step_size", "α", "γ / (1 − β1^t)", as_tensor(step_size, param)),
                      Term("update", "Δθ", "−α·m / d", update)]
            after = theta.addcdiv(m, denom, value=-step_size)
        return RuleOutput(tuple(terms), new_state, after, after - param)


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay, θ ← θ(1 − γλ) before the Adam update."""

    name = "adamw"
    title = "AdamW"
    optimizer_class = torch.optim.AdamW
    hyperparameters = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize")

    def decoupled(self, group: Hyperparameters) -> bool:
        return True
