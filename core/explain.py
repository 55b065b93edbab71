"""The update rule of one element written out with its numbers, line by line.

`explain(rule_name, record, param_name, index)` returns one `Line` per term of the rule,
e.g. `m = β1·m + (1 − β1)·g = 0.9 × (−0.4500) + 0.1 × (−3.7000) = −0.7750`, then the
parameter after the reference's update and the update torch applied. Rules with an
explainer in EXPLAINERS get numbers substituted into their formulas. Any other rule gets a
line per term with its symbol, formula and value, so every rule can be explained.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .checks import ulp_distance
from .record import ParamRecord, StepRecord
from .rules import RULES
from .rules.base import scalar

MINUS = "−"
"""U+2212, the minus sign the formulas use."""


@dataclass(frozen=True)
class Line:
    """One equation of the update of one element."""

    symbol: str
    """Left-hand side, e.g. `m̂`."""
    formula: str
    """The formula in symbols, e.g. `m / (1 − β1^t)`; empty for a plain value."""
    substitution: str
    """The formula with the element's numbers put in; empty where none is known."""
    value: float
    """The value of the left-hand side at the element."""
    note: str = ""
    """A remark shown after the value, e.g. how far torch's update is from the reference's."""


@dataclass(frozen=True)
class Element:
    """The inputs an explainer reads for one element of one parameter on one step."""

    record: StepRecord
    param: ParamRecord
    index: int
    """Flat index into the parameter's real view (complex values count as two reals)."""
    hyperparameters: Mapping[str, Any]
    previous_state: Mapping[str, torch.Tensor] | None
    """torch's state before the step; None where the previous record is not at hand."""

    @property
    def step(self) -> int:
        """The step number t."""
        return self.record.step

    def value(self, tensor: torch.Tensor) -> float:
        """Return the element of `tensor` (or a 0-d tensor's only value) as a float."""
        flat = _real(tensor).reshape(-1)
        return float(flat[0] if flat.numel() == 1 else flat[self.index])

    def term(self, name: str) -> float | None:
        """Return the element of the term called `name`, or None if the rule has none."""
        term = self.param.term(name)
        return None if term is None else self.value(term.value)

    def before(self, key: str) -> float | None:
        """Return the element of torch's state entry `key` before the step.

        Before step 1, or for a key the state did not yet have, the entry counts as zero,
        as torch initialises it. None where the state before the step is unknown.
        """
        if self.previous_state is None:
            return None
        if key not in self.previous_state:
            return 0.0
        return self.value(self.previous_state[key])


Substitution = Callable[[Element], str | None]
"""Writes a formula with an element's numbers, or returns None if an input is missing."""
Explainer = Callable[[Element], list[Line]]
"""Writes every term of a rule for one element."""

EXPLAINERS: dict[str, Explainer] = {}
"""Explainers by rule name (`Rule.name`); rules not listed get `explain_terms`."""


def number(value: float) -> str:
    """Write a value with 4 decimals, or 4 significant digits where that reads better.

    A negative value starts with the minus sign U+2212, as the formulas do.
    """
    if math.isnan(value) or math.isinf(value):
        text = "nan" if math.isnan(value) else "inf"
        return f"{MINUS}{text}" if value < 0 else text
    if value == 0:
        return "0"
    text = f"{value:.4f}" if 1e-3 <= abs(value) < 1e5 else f"{value:.4g}"
    return _signed(text)


def operand(value: float) -> str:
    """Write a value as an operand: negative values in parentheses."""
    text = number(value)
    return f"({text})" if text.startswith(MINUS) else text


def constant(value: Any) -> str:
    """Write a hyper-parameter as short as it reads, e.g. `0.9`, `0.01` or `1e-08`."""
    return _signed(f"{scalar(value):.6g}")


def _signed(text: str) -> str:
    return MINUS + text[1:] if text.startswith("-") else text


def explain(rule_name: str, record: StepRecord, param_name: str, index: int,
            previous: StepRecord | None = None) -> list[Line]:
    """Write the update of element `index` of parameter `param_name` on `record`'s step.

    `previous` is the record of the step before, whose torch state is the state this step
    started from; it may be None at step 1. Without it later steps lose the numbers of
    the formulas that read the state before the step (for Adam: m and v).
    Raises KeyError for an unknown parameter and IndexError for an index out of range.
    """
    param = record.param(param_name)
    count = _real(param.before).numel()
    if not 0 <= index < max(count, 1):
        raise IndexError(f"invalid element index {index} for {param_name} "
                         f"(expected 0 to {count - 1})")
    group = record.hyperparameters[param.group]
    if rule_name in RULES:
        # One's own optimizer may leave optional keys out, and the rule read torch's defaults.
        group = RULES[rule_name].complete(group)
    element = Element(record, param, index, group, _previous_state(record, param, previous))
    if param.skipped:
        return [Line("g", "", "", math.nan, "skipped: the gradient is None")]
    lines = EXPLAINERS.get(rule_name, explain_terms)(element)
    return lines + result_lines(element)


def explain_terms(element: Element) -> list[Line]:
    """Write each term's symbol, formula and value, with no numbers substituted."""
    return [Line(term.symbol, term.formula, "", element.value(term.value))
            for term in element.param.terms]


def substitute_terms(element: Element, table: Mapping[str, Substitution]) -> list[Line]:
    """Write each term, substituting numbers where `table` has the term's formula."""
    lines = []
    for term in element.param.terms:
        write = table.get(term.formula)
        lines.append(Line(term.symbol, term.formula, (write(element) or "") if write else "",
                          element.value(term.value)))
    return lines


def result_lines(element: Element) -> list[Line]:
    """Write θ after the reference's update, then the update torch applied next to it."""
    param = element.param
    before = element.value(param.before)
    if param.computed_update is None:
        return []
    computed = element.value(param.computed_update)
    actual = element.value(param.after) - before
    lines = [Line("θ after", "θ + Δθ", f"{number(before)} + {operand(computed)}",
                  before + computed)]
    lines.append(Line("torch Δθ", "θ after − θ", f"{number(element.value(param.after))} "
                      f"{MINUS} {operand(before)}", actual, _difference(element)))
    return lines


def _difference(element: Element) -> str:
    param = element.param
    actual = _real(param.after - param.before).reshape(-1)
    computed = _real(param.computed_update).reshape(-1)
    i = 0 if actual.numel() == 1 else element.index
    if actual.dtype != computed.dtype or not actual.is_floating_point():
        return ""
    error = abs(float(actual[i].double() - computed[i].double()))
    ulps = int(ulp_distance(actual[i:i + 1], computed[i:i + 1]).item())
    return f"vs computed: abs {error:.3g}, {ulps} ulp"


def _previous_state(record: StepRecord, param: ParamRecord,
                    previous: StepRecord | None) -> Mapping[str, torch.Tensor] | None:
    if record.step == 1:
        return {}
    if previous is None or previous.step != record.step - 1:
        return None
    try:
        return previous.param(param.name).state
    except KeyError:
        return None


def _real(tensor: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(tensor.resolve_conj()) if tensor.is_complex() else tensor


def register(rule_name: str) -> Callable[[Explainer], Explainer]:
    """Register the decorated function as the explainer of the rule called `rule_name`."""
    def decorate(explainer: Explainer) -> Explainer:
        EXPLAINERS[rule_name] = explainer
        return explainer
    return decorate


__all__ = ["EXPLAINERS", "Element", "Explainer", "Line", "Substitution", "constant",
           "explain", "explain_terms", "number", "operand", "register", "result_lines",
           "substitute_terms"]

# Imported last because it registers itself with the names above.
from . import explain_adam as _explain_adam  # noqa: E402,F401
