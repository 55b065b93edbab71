"""Allowed values of optimizer hyper-parameters, checked before an optimizer is built."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Real:
    """A finite real number in a range; integers are accepted and returned as floats."""

    low: float = 0.0
    """Lower bound."""
    high: float = math.inf
    """Upper bound; inf means none."""
    high_open: bool = False
    """Whether the upper bound itself is excluded, as in [0, 1)."""
    tensor: bool = False
    """Whether a 1-element floating tensor is accepted too (torch allows it for `lr`)."""

    def describe(self) -> str:
        """Return the allowed values in words, e.g. `a number in [0, 1)`."""
        if self.high == math.inf:
            text = f"a finite number >= {self.low:g}"
        else:
            text = f"a number in [{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        return text + (" or a 1-element tensor" if self.tensor else "")

    def contains(self, number: float) -> bool:
        """Return whether `number` is finite and within the bounds."""
        above = number < self.high if self.high_open else number <= self.high
        return math.isfinite(number) and self.low <= number and above

    def check(self, name: str, value: Any) -> Any:
        """Return `value` normalised (int to float), or raise ValueError naming it."""
        if self.tensor and isinstance(value, torch.Tensor):
            if value.numel() == 1 and value.is_floating_point() and self.contains(value.item()):
                return value
        elif _is_number(value) and self.contains(float(value)):
            return float(value)
        raise ValueError(f"invalid {name}: {value!r} (expected {self.describe()})")


@dataclass(frozen=True)
class Flag:
    """A boolean option; `optional` ones also accept None, meaning torch chooses."""

    optional: bool = False
    """Whether None is accepted."""

    def describe(self) -> str:
        """Return the allowed values in words."""
        return "true, false or none" if self.optional else "true or false"

    def check(self, name: str, value: Any) -> Any:
        """Return `value`, or raise ValueError naming it."""
        if isinstance(value, bool) or (self.optional and value is None):
            return value
        raise ValueError(f"invalid {name}: {value!r} (expected {self.describe()})")


@dataclass(frozen=True)
class Pair:
    """Two numbers, each in its own range, optionally bound by a relation between them."""

    first: Real
    """Range of the first number."""
    second: Real
    """Range of the second number."""
    relation: Callable[[float, float], bool] | None = None
    """Condition both must meet together, e.g. min <= max."""
    relation_text: str = ""
    """The relation in words, for the error message."""
    tensors: bool = False
    """Whether both may be 1-element tensors instead (torch allows it for Adam's betas)."""

    def describe(self) -> str:
        """Return the allowed values in words."""
        text = f"two numbers: {self.first.describe()}, then {self.second.describe()}"
        return text + (f", with {self.relation_text}" if self.relation_text else "")

    def check(self, name: str, value: Any) -> tuple[Any, Any]:
        """Return `value` as a tuple of normalised numbers, or raise ValueError naming it."""
        if not (isinstance(value, (tuple, list)) and len(value) == 2):
            raise ValueError(f"invalid {name}: {value!r} (expected {self.describe()})")
        kinds = {isinstance(item, torch.Tensor) for item in value}
        if kinds == {True} and self.tensors:
            first = Real(self.first.low, self.first.high, self.first.high_open, tensor=True)
            second = Real(self.second.low, self.second.high, self.second.high_open, tensor=True)
            pair = (first.check(f"{name}[0]", value[0]), second.check(f"{name}[1]", value[1]))
            numbers = (pair[0].item(), pair[1].item())
        elif kinds == {False}:
            pair = (self.first.check(f"{name}[0]", value[0]),
                    self.second.check(f"{name}[1]", value[1]))
            numbers = pair
        else:
            raise ValueError(f"invalid {name}: {value!r} (expected {self.describe()}; "
                             "tensors only where both are tensors)")
        if self.relation is not None and not self.relation(*numbers):
            raise ValueError(f"invalid {name}: {value!r} (expected {self.relation_text})")
        return pair


Limit = Real | Flag | Pair

LR = Real(tensor=True)
"""Learning rate: a number or 1-element tensor >= 0."""
NON_NEGATIVE = Real()
"""A finite number >= 0, e.g. eps or weight decay."""
UNIT = Real(0.0, 1.0)
"""A number in [0, 1], e.g. a smoothing constant or dampening."""
BETAS = Pair(Real(0.0, 1.0, high_open=True), Real(0.0, 1.0, high_open=True))
"""Decay rates of the first and second moments, each in [0, 1)."""
IMPLEMENTATION = {
    "maximize": Flag(),
    "foreach": Flag(optional=True),
    "differentiable": Flag(),
}
"""Options every torch optimizer takes: `maximize`, `foreach`, `differentiable`."""
CAPTURABLE = {"capturable": Flag()}
"""The `capturable` option (CUDA graph capture), taken by most optimizers."""
FUSED = {"fused": Flag(optional=True)}
"""The `fused` option, taken by Adam, AdamW, SGD and Adagrad."""
