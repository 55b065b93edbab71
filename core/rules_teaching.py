"""Teaching variants of the Adam and AdamW references: common mistakes, to watch checks fail.

Each variant changes the reference, never torch, so a step that torch computes correctly
fails its checks by the size of the mistake. The variants, as found in tutorials:

- `no-bias-correction`: m̂ = m and v̂ = v. With β1 = 0.9 and β2 = 0.99 the two corrections
  cancel at step 1, because (1 − 0.9) / √(1 − 0.99) = 1, so the update differs from step 2 on.
- `eps-inside-root`: d = √(v̂ + ε) instead of √v̂ + ε.
- `l2-decay`: AdamW's decay added to the gradient (g + λθ) instead of θ ← θ(1 − γλ).
- `amsgrad-vhat`: AMSGrad keeps the maximum of the bias-corrected v̂, where torch keeps the
  maximum of the raw v (torch/optim/adam.py, torch 2.4 to 2.13). It applies whether or not
  the optimizer has `amsgrad=True`.
"""

from __future__ import annotations

from collections.abc import Collection

import torch

from .rules.adam import Adam, AdamW
from .rules.base import Rule, RuleOutput, Term, as_tensor

VARIANTS: dict[str, str] = {
    "no-bias-correction": "no bias correction",
    "eps-inside-root": "ε inside the root",
    "l2-decay": "L2 decay instead of decoupled",
    "amsgrad-vhat": "AMSGrad over v̂",
}
"""Teaching variants by name, with the label the UI shows, in display order."""


class TeachingAdam(Adam):
    """Adam's reference with a set of teaching variants applied (see the module docstring)."""

    variants: frozenset[str] = frozenset()
    """The variants applied, a subset of VARIANTS."""

    def __init__(self, flavour: str = "torch", variants: Collection[str] = ()) -> None:
        super().__init__(flavour)
        unknown = sorted(set(variants) - set(VARIANTS))
        if unknown:
            raise ValueError(f"unknown teaching variant: {unknown[0]!r} (expected one of "
                             f"{', '.join(VARIANTS)})")
        self.variants = frozenset(variants)

    def decoupled(self, group) -> bool:
        return super().decoupled(group) and "l2-decay" not in self.variants

    def initial_state(self, param, group):
        state = super().initial_state(param, group)
        if "amsgrad-vhat" in self.variants:
            state["max_exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return state

    def step(self, param, grad, state, group) -> RuleOutput:
        if not self.variants & {"no-bias-correction", "eps-inside-root", "amsgrad-vhat"}:
            return super().step(param, grad, state, group)
        return _step_with_variants(self, param, grad, state, group)


class TeachingAdamW(TeachingAdam, AdamW):
    """AdamW's reference with a set of teaching variants applied."""

    def decoupled(self, group) -> bool:
        return "l2-decay" not in self.variants


def teaching_rule(rule: Rule, variants: Collection[str]) -> Rule:
    """Return `rule` with `variants` applied, or the plain Adam or AdamW rule when none are.

    Raises ValueError for a rule other than Adam or AdamW, or an unknown variant.
    """
    if isinstance(rule, AdamW):
        plain, teaching = AdamW, TeachingAdamW
    elif isinstance(rule, Adam):
        plain, teaching = Adam, TeachingAdam
    else:
        raise ValueError(f"no teaching variants for the {rule.title} rule "
                         f"(they exist for Adam and AdamW)")
    if not variants:
        return plain(rule.flavour)
    return teaching(rule.flavour, variants)


def supports_variant(rule: Rule, group: dict, variant: str) -> bool:
    """Whether `variant` can change the reference of `rule` on a param group like `group`.

    `l2-decay` needs decoupled weight decay (AdamW, or Adam with decoupled_weight_decay).
    """
    if not isinstance(rule, Adam):
        return False
    if variant == "l2-decay":
        return Adam.decoupled(rule, group) or isinstance(rule, AdamW)
    return variant in VARIANTS


def set_rule(stepper, rule: Rule) -> None:
    """Make `stepper` check its next steps against `rule`; earlier records stay as they were.

    The carried state goes on from where the old rule left it, so switching a teaching
    variant on and off shows its effect from the current step only. Raises ValueError when
    `rule` describes another optimizer than the stepper's.
    """
    optimizer_class = type(stepper.optimizer)
    if not isinstance(stepper.optimizer, rule.optimizer_class):
        raise ValueError(f"invalid rule: {rule.title} describes "
                         f"{rule.optimizer_class.__name__}, not {optimizer_class.__name__}")
    stepper.rule = rule


def _step_with_variants(rule: TeachingAdam, param, grad, state, group) -> RuleOutput:
    lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
    weight_decay = group.get("weight_decay", 0)
    variants = rule.variants
    textbook = rule.flavour == "textbook"
    terms: list[Term] = []

    g = -grad if group.get("maximize", False) else grad
    terms.append(Term("g", "g", "−∇L (maximize)" if group.get("maximize") else "∇L", g))
    step = state["step"] + 1
    t = step.item()
    theta = param
    if weight_decay != 0:
        if rule.decoupled(group):
            theta = param.mul(1 - lr * weight_decay)
            terms.append(Term("decayed", "θ'", "θ·(1 − γλ)", theta))
        else:
            g = g.add(param, alpha=weight_decay)
            terms.append(Term("g_decayed", "g'", "g + λ·θ", g))

    # The moments use torch's arithmetic, so that their checks still pass under a variant.
    if textbook:
        m = state["exp_avg"].mul(beta1).add(g, alpha=1 - beta1)
        m_text = "β1·m + (1 − β1)·g"
    else:
        m = state["exp_avg"].lerp(g, 1 - beta1)
        m_text = "lerp(m, g, 1 − β1) = m + (1 − β1)·(g − m)"
    v = state["exp_avg_sq"].mul(beta2).addcmul(g, g, value=1 - beta2)
    terms += [Term("m", "m", m_text, m), Term("v", "v", "β2·v + (1 − β2)·g²", v)]
    new_state = {"step": step, "exp_avg": m, "exp_avg_sq": v}

    corrected = "no-bias-correction" not in variants
    bias_correction1 = 1 - beta1**t if corrected else 1.0
    bias_correction2 = 1 - beta2**t if corrected else 1.0
    m_hat, v_hat = m / bias_correction1, _v_hat(rule, group, state, v, bias_correction2, terms,
                                                new_state)
    suffix = "" if corrected else "  (no bias correction)"
    terms += [Term("m_hat", "m̂", ("m / (1 − β1^t)" if corrected else "m") + suffix, m_hat),
              Term("v_hat", "v̂", _v_hat_formula(rule, group, corrected) + suffix, v_hat)]

    if "eps-inside-root" in variants:
        denom = v_hat.add(eps).sqrt()
        denom_text = "√(v̂ + ε)  (ε inside the root)"
    else:
        denom = v_hat.sqrt().add(eps)
        denom_text = "√v̂ + ε"
    update = torch.zeros_like(theta).addcdiv(m_hat, denom, value=-lr)
    terms += [Term("denom", "d", denom_text, denom),
              Term("step_size", "α", "γ", as_tensor(lr, param)),
              Term("update", "Δθ", "−α·m̂ / d", update)]
    after = theta.addcdiv(m_hat, denom, value=-lr)
    return RuleOutput(tuple(terms), new_state, after, after - param)


def _v_hat(rule, group, state, v, bias_correction2, terms, new_state) -> torch.Tensor:
    if "amsgrad-vhat" in rule.variants:
        previous = state.get("max_exp_avg_sq", torch.zeros_like(v))
        v_hat = torch.maximum(previous, v / bias_correction2)
        new_state["max_exp_avg_sq"] = v_hat
        current = "v" if "no-bias-correction" in rule.variants else "v / (1 − β2^t)"
        terms.append(Term("v_max", "v̂_max", f"max(v̂_max, {current})  (textbook AMSGrad)",
                          v_hat))
        return v_hat
    if group.get("amsgrad", False):
        v_max = torch.maximum(state["max_exp_avg_sq"], v)
        new_state["max_exp_avg_sq"] = v_max
        terms.append(Term("v_max", "v_max", "max(v_max, v)", v_max))
        return v_max / bias_correction2
    return v / bias_correction2


def _v_hat_formula(rule, group, corrected: bool) -> str:
    if "amsgrad-vhat" in rule.variants:
        return "v̂_max"
    raw = "v_max" if group.get("amsgrad", False) else "v"
    return f"{raw} / (1 − β2^t)" if corrected else raw
