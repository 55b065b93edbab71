"""An Adam written from Algorithm 1 of Kingma & Ba (2015), checked against the Adam rule.

Run from this folder:

    optimstep check --optimizer-class custom_adam:PaperAdam --reference-rule adam --reference textbook

or through the scenario file next to it: `optimstep check --scenario custom_optimizer.toml`.
The textbook flavour follows the paper's arithmetic in float64, so every check passes
within tolerance: this class rounds each float32 operation, a few ulp per step (at most 8
on the parameters over 101 steps). Against the torch flavour, rounding differs where m
passes near zero, beyond rtol = 1e-5.

optimstep compares the optimizer's state with the rule's under torch's names and types:
`step` as a float32 0-d tensor, `exp_avg` (m) and `exp_avg_sq` (v). State under other
names fails its check with "the reference keeps no ...".
"""

import torch


class PaperAdam(torch.optim.Optimizer):
    """Adam as Algorithm 1 of Kingma & Ba (2015): θ ← θ − α·m̂ / (√v̂ + ε)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        if lr < 0 or eps < 0 or not all(0 <= beta < 1 for beta in betas):
            raise ValueError(f"invalid Adam hyper-parameters: lr={lr}, betas={betas}, eps={eps}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else closure()
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
                state["exp_avg"].mul_(beta1).add_(grad, alpha=1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)

                m_hat = state["exp_avg"] / (1 - beta1**t)
                v_hat = state["exp_avg_sq"] / (1 - beta2**t)
                param.sub_(group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]))
        return loss
