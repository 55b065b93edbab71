"""ASGD reference rule: averaged SGD (Polyak & Juditsky, 1992; Bottou, 2012)."""

from __future__ import annotations

import torch

from .base import (Hyperparameters, Rule, RuleOutput, Term, implementation, l2_decay, real,
                   restore, scalar, signed_gradient, step_dtype, torch_scalar)
from .limits import CAPTURABLE, IMPLEMENTATION, LR, NON_NEGATIVE


class ASGD(Rule):
    """ASGD, following torch's single-tensor path (torch/optim/asgd.py, torch 2.13).

        g ← −∇ if maximize else ∇;  t ← t + 1;  g ← g + λ_wd·θ
        θ ← θ·(1 − λη) − η·g                     (η: the step's eta, starting at γ)
        ā ← ā + μ·(θ − ā), or ā ← θ when μ = 1   (ax, the averaged parameter)
        η ← γ / (1 + λγt)^α;  μ ← 1 / max(1, t − t0)

    torch keeps `eta`, `mu` and `step` as float32 tensors (float64 under a float64 default
    dtype) on the parameter's device, so the next step reads η and μ rounded to float32. With `foreach=True` torch computes
    θ ← θ − η·(g + λθ) and ā ← ā + μ·(θ − ā) even when μ = 1.

    NOTE: with `foreach=True` torch also computes η in float32 arithmetic from the float32
    `step`, up to 3 float32 ulps (2.4e-7 relative, in 20,000 random draws) from the formula
    rounded once. The textbook flavour computes the formula, so its carried checks on
    float64 parameters can miss float64's default rtol of 1e-7 (900 random cases of the
    property tests' ranges all passed with rtol 1e-6).
    """

    name = "asgd"
    title = "ASGD"
    optimizer_class = torch.optim.ASGD
    hyperparameters = ("lr", "lambd", "alpha", "t0", "weight_decay", "maximize")
    panels = (("Schedule", ("eta", "mu")), ("Average", ("ax",)), ("Update", ("update",)))
    limits = {"lr": LR, "lambd": NON_NEGATIVE, "alpha": NON_NEGATIVE, "t0": NON_NEGATIVE,
              "weight_decay": NON_NEGATIVE, **IMPLEMENTATION, **CAPTURABLE}

    def initial_state(self, param: torch.Tensor, group: Hyperparameters) -> dict[str, torch.Tensor]:
        group = self.complete(group)
        dtype = step_dtype(group)
        return {"step": torch.zeros((), device=param.device, dtype=dtype),
                "eta": torch.as_tensor(torch_scalar(group["lr"]), device=param.device,
                                       dtype=dtype).clone().detach(),
                "mu": torch.ones((), device=param.device, dtype=dtype),
                "ax": torch.zeros_like(param, memory_format=torch.preserve_format)}

    def step(self, param, grad, state, group) -> RuleOutput:
        textbook, original = self.flavour == "textbook", param
        foreach = implementation(param, group) == "foreach" and not textbook
        lr = scalar(group["lr"]) if textbook else torch_scalar(group["lr"])
        lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
        step, eta, mu = state["step"] + 1, state["eta"], state["mu"]
        param, grad, ax = real(param), real(grad), real(state["ax"])

        g, first = signed_gradient(grad, group)
        terms = [first]
        g = l2_decay(g, param, group["weight_decay"], terms)
        if foreach:
            # foreach computes θ − η·(g + λθ), and always averages with a multiply-add.
            after = param.addcmul(g.add(param, alpha=lambd), eta, value=-1)
            ax = ax.addcmul(after.sub(ax), mu)
        else:
            if textbook:
                after = param * (1 - lambd * eta.item()) - eta.item() * g
            else:
                after = param.mul(1 - lambd * eta.item()).add(g, alpha=-eta.item())
            ax = ax.add(after.sub(ax).mul(mu)) if mu.item() != 1 else after.clone()
        terms += [Term("update", "Δθ", "−λη·θ − η·g", after - param),
                  Term("ax", "ā", "ā + μ·(θ − ā)", ax)]

        t = step.item()
        # foreach computes η from the float32 `step` tensor, the single-tensor path from t.
        new_eta = torch.as_tensor(lr / ((1 + lambd * lr * (step if foreach else t)) ** alpha))
        new_eta = new_eta.to(eta)
        new_mu = torch.as_tensor(1 / max(1, t - t0)).to(mu)
        terms += [Term("eta", "η", "γ / (1 + λγt)^α  (for the next step)", new_eta),
                  Term("mu", "μ", "1 / max(1, t − t0)  (for the next step)", new_mu)]
        after = restore(after, original)
        new_state = {"step": step, "eta": new_eta, "mu": new_mu, "ax": restore(ax, original)}
        return RuleOutput(tuple(terms), new_state, after, after - original)
