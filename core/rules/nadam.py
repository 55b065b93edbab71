"""NAdam reference rule: Adam with Nesterov momentum (Dozat, 2016)."""

from __future__ import annotations

import torch

from .base import (Hyperparameters, Rule, RuleOutput, Term, apply_weight_decay, as_tensor,
                   implementation, real, restore, scalar, scale, signed_gradient, step_counter,
                   torch_scalar)
from .limits import BETAS, CAPTURABLE, IMPLEMENTATION, LR, NON_NEGATIVE, Flag


class NAdam(Rule):
    """NAdam, following torch's single-tensor path (torch/optim/nadam.py, torch 2.13).

        g ← −∇ if maximize else ∇;  t ← t + 1
        g ← g + λθ  (L2)   or   θ ← θ(1 − γλ)  (decoupled_weight_decay)
        μ_t = β1·(1 − ½·0.96^(tψ));  μ_{t+1} = β1·(1 − ½·0.96^((t+1)ψ))   (momentum_decay ψ)
        Π_t = Π_{t−1}·μ_t                        (mu_product, a float32 tensor in torch)
        m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g²
        d = √(v / (1 − β2^t)) + ε
        θ ← θ − γ(1 − μ_t)/(1 − Π_t) · g/d − γ·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/d

    torch applies the two fractions as two separate addcdiv steps; the textbook flavour
    adds them into one m̂ first: θ ← θ − γ·m̂ / d. With `foreach=True` torch computes
    d = √v / √(1 − β2^t) + ε, and the scalar products round their factor to the parameter's
    dtype first.
    """

    name = "nadam"
    title = "NAdam"
    optimizer_class = torch.optim.NAdam
    hyperparameters = ("lr", "betas", "eps", "weight_decay", "momentum_decay",
                       "decoupled_weight_decay", "maximize")
    panels = (("Momentum schedule", ("mu", "mu_next", "mu_product")),
              ("Moments", ("m", "v")), ("Update", ("denom", "m_hat", "update")))
    limits = {"lr": LR, "betas": BETAS, "eps": NON_NEGATIVE, "weight_decay": NON_NEGATIVE,
              "momentum_decay": NON_NEGATIVE, "decoupled_weight_decay": Flag(),
              **IMPLEMENTATION, **CAPTURABLE}

    def initial_state(self, param: torch.Tensor, group: Hyperparameters) -> dict[str, torch.Tensor]:
        step = step_counter(param, group)
        return {"step": step, "mu_product": torch.ones_like(step),
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

        psi = group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * psi)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * psi)))
        mu_product = state["mu_product"] * mu
        product, product_next = mu_product.item(), mu_product.item() * mu_next
        terms += [Term("mu", "μ_t", "β1·(1 − ½·0.96^(tψ))", as_tensor(mu, param)),
                  Term("mu_next", "μ_{t+1}", "β1·(1 − ½·0.96^((t+1)ψ))", as_tensor(mu_next, param)),
                  Term("mu_product", "Π_t", "Π_{t−1}·μ_t", mu_product)]

        m, v = real(state["exp_avg"]), real(state["exp_avg_sq"])
        m = beta1 * m + (1 - beta1) * g if textbook else m.lerp(g, 1 - beta1)
        v = scale(v, beta2, foreach).addcmul(g, g, value=1 - beta2)
        if foreach:
            denom = v.sqrt().div((1 - beta2**t) ** 0.5).add(eps)
        else:
            denom = v.div(1 - beta2**t).sqrt().add(eps)
        m_hat = mu_next * m / (1 - product_next) + (1 - mu) * g / (1 - product)
        terms += [Term("m", "m", "β1·m + (1 − β1)·g", m), Term("v", "v", "β2·v + (1 − β2)·g²", v),
                  Term("denom", "d", "√(v / (1 − β2^t)) + ε", denom),
                  Term("m_hat", "m̂", "μ_{t+1}·m/(1 − Π_{t+1}) + (1 − μ_t)·g/(1 − Π_t)", m_hat)]

        if textbook:
            after = theta - lr * m_hat / denom
        else:
            after = theta.addcdiv(g, denom, value=(-lr * (1.0 - mu) / (1.0 - product)))
            after = after.addcdiv(m, denom, value=(-lr * mu_next) / (1.0 - product_next))
        terms.append(Term("update", "Δθ", "−γ·m̂ / d", after - theta))
        after = restore(after, original)
        new_state = {"step": step, "mu_product": mu_product, "exp_avg": restore(m, original),
                     "exp_avg_sq": restore(v, original)}
        return RuleOutput(tuple(terms), new_state, after, after - original)
