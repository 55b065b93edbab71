"""Optimizers whose param groups leave out keys that torch's own optimizer always sets.

Loaded by import path in tests of one's own optimizer. Each writes its update out and
builds its groups from its own few keywords, so the rule must read the other keys with
torch's defaults.
"""

import torch

from optimstep.core.rules import Rule, RuleOutput, Term


class NoDampeningSGD(torch.optim.SGD):
    """SGD with momentum whose groups contain only `lr` and `momentum` (no `dampening`)."""

    def __init__(self, params, lr=0.01, momentum=0.0):
        torch.optim.Optimizer.__init__(self, params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                direction = param.grad
                if group["momentum"] != 0:
                    state = self.state[param]
                    buffer = state.get("momentum_buffer")
                    if buffer is None:
                        buffer = direction.clone().detach()
                    else:
                        buffer.mul_(group["momentum"]).add_(direction)
                    state["momentum_buffer"] = buffer
                    direction = buffer
                param.add_(direction, alpha=-group["lr"])


class NoMomentumRMSprop(torch.optim.RMSprop):
    """RMSprop whose groups contain only `lr`, `alpha` and `eps` (no `momentum`, `centered`)."""

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8):
        torch.optim.Optimizer.__init__(self, params, {"lr": lr, "alpha": alpha, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["square_avg"] = torch.zeros_like(param)
                state["step"] += 1
                square_avg = state["square_avg"]
                square_avg.mul_(group["alpha"]).addcmul_(param.grad, param.grad,
                                                         value=1 - group["alpha"])
                denominator = square_avg.sqrt().add_(group["eps"])
                param.addcdiv_(param.grad, denominator, value=-group["lr"])


class RateSGD(torch.optim.Optimizer):
    """Plain SGD whose constructor requires its rate, which its groups store as `rate`."""

    def __init__(self, params, rate):
        super().__init__(params, {"rate": rate})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    param.add_(param.grad, alpha=-group["rate"])


class AttributeRateSGD(RateSGD):
    """RateSGD that keeps its rate as an attribute, so its groups contain no `rate`."""

    def __init__(self, params, rate):
        torch.optim.Optimizer.__init__(self, params, {})
        self.rate = rate

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    param.add_(param.grad, alpha=-self.rate)


class RateRule(Rule):
    """θ ← θ − r·g, the rule of RateSGD, whose constructor gives `rate` no default."""

    name = "rate"
    title = "Rate"
    optimizer_class = RateSGD
    hyperparameters = ("rate",)

    def initial_state(self, param, group):
        return {}

    def step(self, param, grad, state, group):
        after = param - group["rate"] * grad
        return RuleOutput((Term("update", "Δθ", "−r·g", after - param),), {}, after,
                          after - param)


def rate_stepper(optimizer_class):
    """Return a Stepper of the default linear model under `optimizer_class` and RateRule."""
    from optimstep.core import Stepper, preset

    built = preset().build()
    optimizer = optimizer_class(built.model.parameters(), rate=0.1)
    return Stepper(built.model, optimizer, built.loss_fn, built.batches, rule=RateRule())


class LrOnlyAdam(torch.optim.Adam):
    """Adam in torch's order with torch's default betas and eps built in; its groups
    contain only `lr`."""

    def __init__(self, params, lr=1e-3):
        torch.optim.Optimizer.__init__(self, params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for group in self.param_groups:
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
                state["exp_avg"].lerp_(param.grad, 1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(param.grad, param.grad, value=1 - beta2)
                denominator = (state["exp_avg_sq"].sqrt() / (1 - beta2**t) ** 0.5).add_(eps)
                param.addcdiv_(state["exp_avg"], denominator, value=-group["lr"] / (1 - beta1**t))
