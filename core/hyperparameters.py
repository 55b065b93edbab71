"""Validation of live edits to the hyper-parameters of an optimizer's param group."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

import torch

FIXED = ("amsgrad", "centered", "foreach", "fused", "capturable", "differentiable")
"""Group keys that cannot change during a run: they select which state tensors the optimizer
keeps or which implementation runs, so torch's next step would fail or change code path."""

_NOT_HYPERPARAMETERS = ("params", "param_names")

_NONNEGATIVE = ("lr", "eps", "weight_decay", "momentum", "alpha", "lr_decay",
                "initial_accumulator_value")
_UNIT_INTERVAL = ("rho",)


def editable_keys(group: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the keys of a param group that `checked_value` accepts, in the group's order."""
    return tuple(key for key in group if key not in _NOT_HYPERPARAMETERS and key not in FIXED)


def checked_value(group: Mapping[str, Any], key: str, value: Any) -> Any:
    """Return `value` as the group's new `key`, or raise ValueError naming what is allowed.

    The value keeps the form the group stores. For a key stored as a tensor it comes back as
    a tensor of that dtype and device. For a key stored as a number, a tensor comes back as a
    Python float.
    """
    if key not in editable_keys(group):
        if key in FIXED and key in group:
            raise ValueError(f"invalid {key}: {value!r} ({key} cannot change during a run "
                             "because it selects the optimizer's state or implementation; "
                             "set it when building the optimizer)")
        raise ValueError(f"invalid hyper-parameter {key!r}: {value!r} (expected one of "
                         f"{', '.join(editable_keys(group))})")

    old = group[key]
    if key == "betas":
        return _pair_in_unit_interval(key, old, value)
    if key in _NONNEGATIVE:
        return _like(old, _number(key, value, "a finite number >= 0", lambda x: x >= 0))
    if key in _UNIT_INTERVAL:
        return _like(old, _number(key, value, "a number in [0, 1]", lambda x: 0 <= x <= 1))
    return _same_kind(key, old, value)


def check_with_torch(optimizer_class: type[torch.optim.Optimizer], index: int,
                     group: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    """Raise ValueError when torch's constructor rejects the group's settings with `values`.

    This catches combinations that single values cannot show, e.g. SGD's nesterov without
    momentum. It builds a throwaway optimizer on a one-element tensor like the group's first
    parameter. Constructor arguments the group does not hold keep their defaults.
    """
    accepted = inspect.signature(optimizer_class.__init__).parameters
    settings = {key: value for key, value in {**group, **values}.items()
                if key in accepted and key not in _NOT_HYPERPARAMETERS}
    like = group["params"][0] if group["params"] else torch.zeros(())
    dummy = torch.zeros(1, dtype=like.dtype, device=like.device, requires_grad=True)
    changes = ", ".join(f"{key}={value!r}" for key, value in values.items())
    try:
        trial = optimizer_class([dummy], **settings)
    except TypeError:
        # The constructor needs arguments the group does not hold, e.g. a custom optimizer.
        return
    except ValueError as error:
        raise ValueError(f"invalid hyper-parameters for param group {index} ({changes}): "
                         f"{error}") from None
    if not optimizer_class.__module__.startswith("torch.optim"):
        # One's own optimizer's step is user code: it is not run on a trial.
        return
    # A value can pass the constructor and still fail every step, e.g. a weight decay of
    # 1e300 that no float32 holds. One trial step on the dummy shows it now.
    dummy.grad = torch.ones_like(dummy)
    try:
        trial.step()
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"invalid hyper-parameters for param group {index} ({changes}): a "
                         f"trial step on a {str(like.dtype).removeprefix('torch.')} parameter "
                         f"failed: {reason}") from None


def same_value(old: Any, new: Any) -> bool:
    """Return whether setting `new` in place of `old` changes nothing, bit for bit."""
    if isinstance(old, torch.Tensor) or isinstance(new, torch.Tensor):
        return (isinstance(old, torch.Tensor) and isinstance(new, torch.Tensor)
                and old.dtype == new.dtype and torch.equal(old, new))
    if isinstance(old, (tuple, list)) and isinstance(new, (tuple, list)):
        return len(old) == len(new) and all(same_value(a, b) for a, b in zip(old, new))
    return type(old) is type(new) and old == new


def copied(value: Any) -> Any:
    """Return a copy of a hyper-parameter value that shares no tensor with `value`."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple):
        return tuple(copied(item) for item in value)
    return value


def _as_float(value: Any) -> float | None:
    """Return a real number or a one-element real tensor as a float, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if (isinstance(value, torch.Tensor) and value.numel() == 1
            and not value.is_complex() and value.dtype != torch.bool):
        return float(value.item())
    return None


def _number(key: str, value: Any, allowed: str, valid=lambda x: True) -> Any:
    number = _as_float(value)
    if number is None or not math.isfinite(number) or not valid(number):
        raise ValueError(f"invalid {key}: {value!r} (expected {allowed})")
    return value


def _like(old: Any, new: Any) -> Any:
    """Return a validated number in the form `old` has: a tensor like it, or a Python number."""
    if isinstance(old, torch.Tensor):
        return torch.tensor(_as_float(new), dtype=old.dtype, device=old.device)
    if isinstance(new, torch.Tensor):
        return _as_float(new)
    return new


def _pair_in_unit_interval(key: str, old: Any, value: Any) -> tuple[Any, Any]:
    items = [_as_float(item) for item in value] if isinstance(value, (tuple, list)) else []
    if len(items) != 2 or not all(item is not None and 0 <= item < 1 for item in items):
        raise ValueError(f"invalid {key}: {value!r} (expected a pair of numbers, each in [0, 1))")
    return tuple(_like(before, after) for before, after in zip(old, value))


def _same_kind(key: str, old: Any, value: Any) -> Any:
    """Validate a key with no known range: the value must be of the kind the group holds."""
    if isinstance(old, bool):
        if not isinstance(value, bool):
            raise ValueError(f"invalid {key}: {value!r} (expected True or False)")
        return value
    if _as_float(old) is not None:
        return _like(old, _number(key, value, "a finite number"))
    if isinstance(old, (tuple, list)) and all(_as_float(item) is not None for item in old):
        items = [_as_float(item) for item in value] if isinstance(value, (tuple, list)) else []
        if len(items) != len(old) or not all(item is not None and math.isfinite(item)
                                             for item in items):
            raise ValueError(f"invalid {key}: {value!r} (expected a sequence of {len(old)} "
                             "finite numbers)")
        return type(old)(_like(before, after) for before, after in zip(old, value))
    raise ValueError(f"invalid {key}: {value!r} (expected a value like the current "
                     f"{old!r}; values of type {type(old).__name__} cannot be edited)")
