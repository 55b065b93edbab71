"""Adam reimplementations loaded by import path in tests of one's own optimizer.

`TorchOrderAdam` follows torch's single-tensor arithmetic and must pass every check.
`NoFirstBiasCorrectionAdam` has a planted bug: it never divides m by 1 − β1^t, so its
first step moves each parameter by lr·(1 − β1) instead of lr.
"""

import torch


class TorchOrderAdam(torch.optim.Optimizer):
    """Adam in torch's order: m ← lerp(m, g, 1 − β1), θ ← θ − (lr/bc1)·m / (√v/√bc2 + ε)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps})

    def first_moment_scale(self, t: float, beta1: float) -> float:
        """Return 1 / (1 − β1^t), the bias correction of the first moment."""
        return 1 / (1 - beta1**t)

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)

                state["step"] += 1
                t = state["step"].item()
                grad = param.grad
                state["exp_avg"].lerp_(grad, 1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)

                step_size = group["lr"] * self.first_moment_scale(t, beta1)
                denom = (state["exp_avg_sq"].sqrt() / (1 - beta2**t) ** 0.5).add_(group["eps"])
                param.addcdiv_(state["exp_avg"], denom, value=-step_size)
        return None


class NoFirstBiasCorrectionAdam(TorchOrderAdam):
    """TorchOrderAdam with the bug: the first moment is used without bias correction."""

    def first_moment_scale(self, t: float, beta1: float) -> float:
        return 1.0


class SubclassedAdam(torch.optim.Adam):
    """A torch.optim.Adam subclass: its reference rule defaults to Adam's."""


class PlainSGD(torch.optim.Optimizer):
    """Gradient descent, a class with no torch.optim base that has a rule."""

    def __init__(self, params, lr=0.01):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    param.sub_(param.grad, alpha=group["lr"])
        return None


NOT_A_CLASS = 3
"""A module attribute that is not a class."""


class NotAnOptimizer:
    """A class that does not subclass torch.optim.Optimizer."""
