"""Fused-kernel arithmetic of Adam, AdamW, SGD and Adagrad, for `fused=True` on the CPU.

torch's fused CPU kernels (aten/src/ATen/native/cpu/Fused{Adam,SGD,Adagrad}Kernel.cpp,
measured against torch 2.13) load each element into its compute type (float32 for float16, bfloat16
and float32; float64 for float64), apply the whole update there, and round the results back
once. These functions follow the kernels' per-element code, one rounding per operation.
The exception is where the compiler fused a multiply and an add into one rounding (`_fma`).
Which ones it fused was measured against torch 2.13's x86-64 CPU build.

NOTE: the kernels run a vectorised loop over blocks of 8 to 32 elements and the per-element
code only on the remainder. The vectorised loop fuses the lerp into one multiply-add and, in
SGD and Adagrad, rounds some constants to float16/bfloat16 first, so tensors that large agree
within tolerance rather than bit for bit. Adam's and Adagrad's float32 parameters can also
differ by a few ulps, from a last division whose exact evaluation was not reproduced.
"""

from __future__ import annotations

import math

import torch

from .base import Hyperparameters, RuleOutput, Term, as_tensor, scalar


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Return the type a fused kernel computes in for parameters of `dtype`."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _constant(value: float, like: torch.Tensor) -> torch.Tensor:
    # A 0-d tensor of the compute type, so each product rounds as the kernel's does.
    return torch.tensor(value, dtype=like.dtype, device=like.device)


def _fma(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    # a·b + c rounded once: torch's addcmul kernel computes it with a fused multiply-add.
    return c.addcmul(a, b)


def _gradient(param, grad, group, terms) -> tuple[torch.Tensor, torch.Tensor]:
    dtype = compute_dtype(param.dtype)
    p, g = param.to(dtype), grad.to(dtype)
    if group.get("maximize", False):
        g = -g
    terms.append(Term("g", "g", "−∇L (maximize)" if group.get("maximize") else "∇L", g))
    return p, g


def adam(param, grad, state, group: Hyperparameters, decoupled: bool) -> RuleOutput:
    """Compute one fused Adam or AdamW step (the AdamW mode scales θ by 1 − γλ)."""
    lr, beta1, beta2 = scalar(group["lr"]), scalar(group["betas"][0]), scalar(group["betas"][1])
    weight_decay, terms = group.get("weight_decay", 0), []
    step = state["step"] + 1
    t = step.item()
    p, g = _gradient(param, grad, group, terms)
    if weight_decay != 0 and decoupled:
        p = p * _constant(1 - lr * weight_decay, p)
        terms.append(Term("decayed", "θ'", "θ·(1 − γλ)", p))
    elif weight_decay != 0:
        g = _fma(p, _constant(weight_decay, p), g)
        terms.append(Term("g_decayed", "g'", "g + λ·θ", g))

    m, w = state["exp_avg"].to(p.dtype), _constant(1 - beta1, p)
    # The kernel's lerp: m + w·(g − m) for small weights, g − (g − m)·(1 − w) otherwise.
    m = _fma(w, g - m, m) if abs(w.item()) < 0.5 else _fma(m - g, _constant(1, p) - w, g)
    v = _fma(state["exp_avg_sq"].to(p.dtype), _constant(beta2, p),
             _constant(1 - beta2, p) * g * g)
    terms += [Term("m", "m", "lerp(m, g, 1 − β1) = m + (1 − β1)·(g − m)", m),
              Term("v", "v", "β2·v + (1 − β2)·g²", v)]
    new_state = {"step": step, "exp_avg": m.to(param.dtype), "exp_avg_sq": v.to(param.dtype)}
    v_used = v
    if group.get("amsgrad", False):
        v_used = torch.maximum(state["max_exp_avg_sq"].to(p.dtype), v)
        new_state["max_exp_avg_sq"] = v_used.to(param.dtype)
        terms.append(Term("v_max", "v_max", "max(v_max, v)", v_used))

    terms += [Term("m_hat", "m̂", "m / (1 − β1^t)", m / (1 - beta1**t)),
              Term("v_hat", "v̂", "v_max / (1 − β2^t)" if v_used is not v else "v / (1 − β2^t)",
                   v_used / (1 - beta2**t))]
    step_size = lr / (1 - beta1**t)
    denom = v_used.sqrt() / _constant(math.sqrt(1 - beta2**t), p) + _constant(group["eps"], p)
    after = p - _constant(step_size, p) * m / denom
    terms += [Term("denom", "d", "√v / √(1 − β2^t) + ε  (torch order)", denom),
              Term("step_size", "α", "γ / (1 − β1^t)", as_tensor(step_size, param)),
              Term("update", "Δθ", "−α·m / d", after - p)]
    after = after.to(param.dtype)
    return RuleOutput(tuple(terms), new_state, after, after - param)


def sgd(param, grad, state, group: Hyperparameters) -> RuleOutput:
    """Compute one fused SGD step. The momentum buffer starts as g when no parameter of the
    group has one yet."""
    momentum, terms = group["momentum"], []
    p, g = _gradient(param, grad, group, terms)
    if group["weight_decay"] != 0:
        g = _fma(p, _constant(group["weight_decay"], p), g)
        terms.append(Term("g_decayed", "g'", "g + λ·θ", g))
    new_state = {}
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = g
        else:
            buf = _fma(buf.to(p.dtype), _constant(momentum, p),
                       g * _constant(1 - group["dampening"], p))
        new_state["momentum_buffer"] = buf.to(param.dtype)
        terms.append(Term("momentum_buffer", "b", "μ·b + (1 − τ)·g", buf))
        g = _fma(buf, _constant(momentum, p), g) if group["nesterov"] else buf
        terms.append(Term("direction", "d", "g + μ·b" if group["nesterov"] else "b", g))
    after = _fma(-g, _constant(scalar(group["lr"]), p), p)
    terms.append(Term("update", "Δθ", "−γ·d", after - p))
    after = after.to(param.dtype)
    return RuleOutput(tuple(terms), new_state, after, after - param)


def adagrad(param, grad, state, group: Hyperparameters) -> RuleOutput:
    """Compute one fused Adagrad step."""
    terms = []
    step = state["step"] + 1
    clr = scalar(group["lr"]) / (1.0 + (step.item() - 1.0) * group["lr_decay"])
    p, g = _gradient(param, grad, group, terms)
    if group["weight_decay"] != 0:
        g = _fma(p, _constant(group["weight_decay"], p), g)
        terms.append(Term("g_decayed", "g'", "g + λ·θ", g))
    total = _fma(g, g, state["sum"].to(p.dtype))
    std = total.sqrt() + _constant(group["eps"], p)
    after = p - _constant(clr, p) * g / std
    terms += [Term("clr", "γ̃", "γ / (1 + (t − 1)·η)", as_tensor(clr, param)),
              Term("sum", "s", "s + g²", total), Term("std", "d", "√s + ε", std),
              Term("update", "Δθ", "−γ̃·g / d", after - p)]
    after = after.to(param.dtype)
    return RuleOutput(tuple(terms), {"step": step, "sum": total.to(param.dtype)}, after,
                      after - param)
