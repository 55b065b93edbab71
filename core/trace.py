"""StepRecords as JSON: one object per step, the format of `check --json` and trace files."""

from __future__ import annotations

import math
from typing import Any

import torch

from .checks import Check
from .record import ParamRecord, StepRecord

SCHEMA_VERSION = 1
"""Version of the JSON layout; bumped when a key changes meaning or disappears."""


def encode_number(value: float) -> float | str:
    """Return a float for JSON, writing nan and infinities as the strings "nan", "inf", "-inf"."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def encode_tensor(tensor: torch.Tensor) -> Any:
    """Return a tensor as nested lists of numbers (complex values as [real, imag] pairs)."""
    values = torch.view_as_real(tensor) if tensor.is_complex() else tensor
    values = values.detach().cpu()
    if values.is_floating_point():
        values = values.double()
        if not bool(torch.isfinite(values).all()):
            return _encode_nested(values.tolist())
    return values.tolist()


def _encode_nested(value: Any) -> Any:
    if isinstance(value, list):
        return [_encode_nested(item) for item in value]
    return encode_number(value) if isinstance(value, float) else value


def encode_value(value: Any) -> Any:
    """Return a hyper-parameter value (number, bool, tuple, tensor) as JSON."""
    if isinstance(value, torch.Tensor):
        return encode_tensor(value)
    if isinstance(value, (tuple, list)):
        return [encode_value(item) for item in value]
    if isinstance(value, float):
        return encode_number(value)
    return value


def check_to_dict(check: Check) -> dict[str, Any]:
    """Return one check as JSON."""
    return {
        "name": check.name,
        "mode": check.mode,
        "passed": check.passed,
        "max_abs_error": encode_number(check.max_abs_error),
        "max_rel_error": encode_number(check.max_rel_error),
        "max_ulp": check.max_ulp,
        "rtol": check.tolerance.rtol,
        "atol": check.tolerance.atol,
        "nonfinite_mismatches": check.nonfinite_mismatches,
        "worst_index": list(check.worst_index),
        "detail": check.detail,
    }


def param_to_dict(param: ParamRecord) -> dict[str, Any]:
    """Return one parameter's record as JSON."""
    return {
        "group": param.group,
        "dtype": str(param.before.dtype).removeprefix("torch."),
        "shape": list(param.before.shape),
        "skipped": param.skipped,
        "before": encode_tensor(param.before),
        "grad": None if param.grad is None else encode_tensor(param.grad),
        "after": encode_tensor(param.after),
        "computed_update": None if param.computed_update is None
        else encode_tensor(param.computed_update),
        "actual_update": encode_tensor(param.actual_update),
        "state": {key: encode_tensor(value) for key, value in param.state.items()},
        "terms": {term.name: encode_tensor(term.value) for term in param.terms},
        "formulas": {term.name: term.formula for term in param.terms},
    }


def record_to_dict(record: StepRecord) -> dict[str, Any]:
    """Return a step's record as one JSON object (see docs/json.md for every key)."""
    return {
        "schema": SCHEMA_VERSION,
        "step": record.step,
        "loss": encode_number(record.loss),
        "passed": record.passed,
        "optimizer": record.optimizer,
        "reference": record.reference,
        "hyperparameters": [{key: encode_value(value) for key, value in group.items()}
                            for group in record.hyperparameters],
        "params": {param.name: param_to_dict(param) for param in record.params},
        "checks": [check_to_dict(check) for check in record.checks],
    }
