"""Adam's and AdamW's formulas with an element's numbers, teaching variants included."""

from __future__ import annotations

from .explain import MINUS, Element, Line, Substitution, constant, number, operand, register
from .explain import substitute_terms


def _betas(e: Element) -> tuple[float, float]:
    beta1, beta2 = e.hyperparameters["betas"]
    return float(beta1), float(beta2)


def _gradient(e: Element) -> float | None:
    """Return the gradient the moments read: after L2 decay where the rule adds it."""
    decayed = e.term("g_decayed")
    return e.term("g") if decayed is None else decayed


def _used_v(e: Element) -> float | None:
    v_max = e.term("v_max")
    return e.term("v") if v_max is None else v_max


def _bias(e: Element, beta_index: int) -> str:
    beta = _betas(e)[beta_index]
    return f"(1 − {constant(beta)}^{e.step})"


def _first_moment(e: Element) -> str | None:
    m_before, g = e.before("exp_avg"), _gradient(e)
    if m_before is None or g is None:
        return None
    beta1 = _betas(e)[0]
    return f"{constant(beta1)} × {operand(m_before)} + {constant(1 - beta1)} × {operand(g)}"


def _second_moment(e: Element) -> str | None:
    v_before, g = e.before("exp_avg_sq"), _gradient(e)
    if v_before is None or g is None:
        return None
    beta2 = _betas(e)[1]
    return f"{constant(beta2)} × {operand(v_before)} + {constant(1 - beta2)} × {operand(g)}²"


def _running_max(e: Element, corrected: bool) -> str | None:
    previous, v = e.before("max_exp_avg_sq"), e.term("v")
    if previous is None or v is None:
        return None
    current = f"{number(v)} / {_bias(e, 1)}" if corrected else number(v)
    return f"max({number(previous)}, {current})"


def _update(e: Element, moment: str) -> str | None:
    alpha, value, denom = e.term("step_size"), e.term(moment), e.term("denom")
    if alpha is None or value is None or denom is None:
        return None
    return f"{MINUS}{number(alpha)} × {operand(value)} / {number(denom)}"


def _eps(e: Element) -> str:
    return constant(e.hyperparameters["eps"])


def _lr(e: Element) -> str:
    return constant(e.hyperparameters["lr"])


def _weight_decay(e: Element) -> str:
    return constant(e.hyperparameters.get("weight_decay", 0))


FIRST_MOMENT = {
    "lerp(m, g, 1 − β1) = m + (1 − β1)·(g − m)": _first_moment,
    "β1·m + (1 − β1)·g": _first_moment,
}

SUBSTITUTIONS: dict[str, Substitution] = {
    **FIRST_MOMENT,
    "−∇L (maximize)": lambda e: f"{MINUS}{operand(e.value(e.param.grad))}",
    "θ·(1 − γλ)": lambda e: f"{operand(e.value(e.param.before))} × (1 − {_lr(e)} × "
                           f"{_weight_decay(e)})",
    "g + λ·θ": lambda e: f"{operand(e.term('g'))} + {_weight_decay(e)} × "
                        f"{operand(e.value(e.param.before))}",
    "β2·v + (1 − β2)·g²": _second_moment,
    "max(v_max, v)": lambda e: _running_max(e, corrected=False),
    "m / (1 − β1^t)": lambda e: f"{number(e.term('m'))} / {_bias(e, 0)}",
    "v / (1 − β2^t)": lambda e: f"{number(e.term('v'))} / {_bias(e, 1)}",
    "v_max / (1 − β2^t)": lambda e: f"{number(e.term('v_max'))} / {_bias(e, 1)}",
    "√v / √(1 − β2^t) + ε  (torch order)":
        lambda e: f"√{number(_used_v(e))} / √{_bias(e, 1)} + {_eps(e)}",
    "√v̂ + ε": lambda e: f"√{number(e.term('v_hat'))} + {_eps(e)}",
    "γ / (1 − β1^t)": lambda e: f"{_lr(e)} / {_bias(e, 0)}",
    "−α·m / d": lambda e: _update(e, "m"),
    "−α·m̂ / d": lambda e: _update(e, "m_hat"),
    # Teaching variants (core/rules_teaching.py).
    "√(v̂ + ε)  (ε inside the root)": lambda e: f"√({number(e.term('v_hat'))} + {_eps(e)})",
    "max(v̂_max, v / (1 − β2^t))  (textbook AMSGrad)": lambda e: _running_max(e, corrected=True),
    "max(v̂_max, v)  (textbook AMSGrad)": lambda e: _running_max(e, corrected=False),
}
"""Substitutions by the formula text of Adam's terms."""


@register("adam")
@register("adamw")
def explain_adam(element: Element) -> list[Line]:
    """Write Adam's or AdamW's terms with the element's numbers."""
    return substitute_terms(element, SUBSTITUTIONS)
