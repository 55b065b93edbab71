"""SGD reference rule, with momentum and Nesterov momentum (Sutskever et al., 2013)."""

from __future__ import annotations

from typing import Any

import torch

from . import fused
from .base import (Hyperparameters, Rule, RuleOutput, Term, implementation, l2_decay, scalar,
                   scale, signed_gradient, torch_scalar)
from .limits import FUSED, IMPLEMENTATION, LR, NON_NEGATIVE, UNIT, Flag


class SGD(Rule):
    """Stochastic gradient descent, following torch's single-tensor path
    (torch/optim/sgd.py, torch 2.13; its documented pseudo-code).

        g ← −∇ if maximize else ∇;  g ← g + λθ
        b ← g on the first step, else μ·b + (1 − τ)·g      (momentum μ ≠ 0, dampening τ)
        d ← g + μ·b if nesterov else b                      (d ← g without momentum)
        θ ← θ − γ·d

    torch adds with `alpha`; the textbook flavour multiplies and adds separately. The momentum
    buffer exists only when μ ≠ 0. Complex parameters stay complex throughout, as in torch.
    With `foreach=True` the product μ·b rounds μ to the parameter's dtype first; `fused=True`
    follows the fused kernel (see `fused.sgd`).
    """

    name = "sgd"
    title = "SGD"
    optimizer_class = torch.optim.SGD
    hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")
    panels = (("Momentum", ("momentum_buffer",)), ("Update", ("direction", "update")))
    limits = {"lr": LR, "momentum": NON_NEGATIVE, "dampening": UNIT,
              "weight_decay": NON_NEGATIVE, "nesterov": Flag(), **IMPLEMENTATION, **FUSED}

    @classmethod
    def check_combination(cls, values: dict[str, Any]) -> None:
        super().check_combination(values)
        if values.get("nesterov") and (values.get("momentum", 0) <= 0
                                       or values.get("dampening", 0) != 0):
            raise ValueError(f"invalid nesterov=True with momentum={values.get('momentum', 0)!r} "
                             f"and dampening={values.get('dampening', 0)!r} (Nesterov momentum "
                             "needs momentum > 0 and dampening = 0)")

    def initial_state(self, param: torch.Tensor, group: Hyperparameters) -> dict[str, torch.Tensor]:
        return {}

    def step(self, param, grad, state, group) -> RuleOutput:
        how = implementation(param, group)
        if how == "fused" and self.flavour == "torch":
            return fused.sgd(param, grad, state, group)
        textbook = self.flavour == "textbook"
        lr = scalar(group["lr"]) if textbook else torch_scalar(group["lr"])
        momentum, dampening = group["momentum"], group["dampening"]

        g, first = signed_gradient(grad, group)
        terms = [first]
        g = l2_decay(g, param, group["weight_decay"], terms)

        new_state = {}
        direction = g
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = g.clone()
                text = "g (first step)"
            elif textbook:
                buf = momentum * buf + (1 - dampening) * g
                text = "μ·b + (1 − τ)·g"
            else:
                # NOTE: foreach rounds μ only when every parameter of the group has a buffer.
                buf = scale(buf, momentum, how == "foreach").add(g, alpha=1 - dampening)
                text = "μ·b + (1 − τ)·g"
            new_state["momentum_buffer"] = buf
            terms.append(Term("momentum_buffer", "b", text, buf))
            if group["nesterov"]:
                direction = g + momentum * buf if textbook else g.add(buf, alpha=momentum)
                terms.append(Term("direction", "d", "g + μ·b  (Nesterov)", direction))
            else:
                direction = buf
                terms.append(Term("direction", "d", "b", direction))

        if textbook:
            update = -lr * direction
            after = param + update
        else:
            after = param.add(direction, alpha=-lr)
            update = after - param
        terms.append(Term("update", "Δθ", "−γ·d", update))
        return RuleOutput(tuple(terms), new_state, after, after - param)
