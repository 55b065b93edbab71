"""StepRecords as JSON: one object per step, the format of `check --json` and trace files."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .checks import Check, Tolerance
from .record import ParamRecord, StepRecord
from .rules.base import Term

SCHEMA_VERSION = 1
"""Version of the JSON layout; bumped when a key changes meaning or disappears."""

Panels = tuple[tuple[str, tuple[str, ...]], ...]
"""A rule's panels: (title, term names) pairs."""

_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class TraceError(ValueError):
    """A trace file or step object is not valid; the message names the line or key."""


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


def _dtype_name(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


def _terms_equal(a: Sequence[Term], b: Sequence[Term]) -> bool:
    return len(a) == len(b) and all(
        x.name == y.name and x.value.dtype == y.value.dtype and torch.equal(x.value, y.value)
        for x, y in zip(a, b))


def param_to_dict(param: ParamRecord) -> dict[str, Any]:
    """Return one parameter's record as JSON."""
    obj = {
        "group": param.group,
        "dtype": _dtype_name(param.before),
        "shape": list(param.before.shape),
        "skipped": param.skipped,
        "before": encode_tensor(param.before),
        "grad": None if param.grad is None else encode_tensor(param.grad),
        "after": encode_tensor(param.after),
        "computed_update": None if param.computed_update is None
        else encode_tensor(param.computed_update),
        "actual_update": encode_tensor(param.actual_update),
        "state": {key: encode_tensor(value) for key, value in param.state.items()},
        "state_dtypes": {key: _dtype_name(value) for key, value in param.state.items()},
        "terms": {term.name: encode_tensor(term.value) for term in param.terms},
        "term_dtypes": {term.name: _dtype_name(term.value) for term in param.terms},
        "symbols": {term.name: term.symbol for term in param.terms},
        "formulas": {term.name: term.formula for term in param.terms},
    }
    # Carried terms are written only where they differ, which keeps the usual line short.
    if not _terms_equal(param.terms, param.carried_terms):
        obj["carried_terms"] = {term.name: encode_tensor(term.value)
                                for term in param.carried_terms}
    return obj


def record_to_dict(record: StepRecord, panels: Panels | None = None) -> dict[str, Any]:
    """Return a step's record as one JSON object (see docs/json.md for every key).

    `panels` is the rule's (title, term names) pairs. When given, it is written so that a
    replay of the trace groups the terms as the live app does.
    """
    obj = {
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
    if panels is not None:
        obj["panels"] = [[title, list(names)] for title, names in panels]
    return obj


# Reading: the inverse of record_to_dict, and a reader of JSON-lines trace files.


def decode_number(value: Any, where: str = "value") -> float:
    """Return a JSON number, or one of the strings "nan", "inf", "-inf", as a float."""
    if isinstance(value, str) and value in _NONFINITE:
        return _NONFINITE[value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TraceError(f"invalid {where}: {value!r} (expected a number, \"nan\", \"inf\" "
                     f"or \"-inf\")")


def _decode_nested(value: Any, where: str) -> Any:
    if isinstance(value, list):
        return [_decode_nested(item, where) for item in value]
    if isinstance(value, bool):
        return value
    return decode_number(value, where) if isinstance(value, (str, float)) else value


def _torch_dtype(name: Any, where: str) -> torch.dtype:
    dtype = getattr(torch, name, None) if isinstance(name, str) else None
    if not isinstance(dtype, torch.dtype):
        raise TraceError(f"invalid {where}: {name!r} (expected a torch dtype such as float32)")
    return dtype


def decode_tensor(value: Any, dtype: str, where: str,
                  shape: Sequence[int] | None = None) -> torch.Tensor:
    """Return the tensor that `encode_tensor` wrote as `value`, with the given dtype name.

    Nested lists lose the shape of a tensor with no elements, so `shape`, where known,
    restores it and is checked against the lists otherwise.
    """
    torch_dtype = _torch_dtype(dtype, f"{where} dtype")
    real_dtype = torch_dtype.to_real() if torch_dtype.is_complex else torch_dtype
    try:
        tensor = torch.tensor(_decode_nested(value, where), dtype=real_dtype)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TraceError(f"invalid {where}: {error}") from None
    if shape is not None and tensor.numel() == 0 and math.prod(shape) == 0:
        tensor = tensor.reshape([*shape, 2] if torch_dtype.is_complex else list(shape))
    if torch_dtype.is_complex:
        if tensor.dim() == 0 or tensor.shape[-1] != 2:
            raise TraceError(f"invalid {where}: a {dtype} tensor needs [real, imag] pairs")
        tensor = torch.view_as_complex(tensor.contiguous())
    if shape is not None:
        if list(tensor.shape) != list(shape):
            raise TraceError(f"invalid {where}: shape {list(tensor.shape)} differs from the "
                             f"parameter's {list(shape)}")
    return tensor


def decode_value(value: Any) -> Any:
    """Return a hyper-parameter written by `encode_value`: lists become tuples.

    NOTE: a hyper-parameter that was a tensor (e.g. a tensor lr) comes back as a number or
    a tuple, and a string hyper-parameter spelled "nan" or "inf" comes back as a float.
    """
    if isinstance(value, list):
        return tuple(decode_value(item) for item in value)
    if isinstance(value, str) and value in _NONFINITE:
        return _NONFINITE[value]
    return value


def _field(obj: Any, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(obj, dict):
        raise TraceError(f"invalid {where}: expected a JSON object")
    if key not in obj:
        raise TraceError(f"missing key {key!r} in {where}")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise TraceError(f"invalid {where}.{key}: {_short(value)} (expected "
                         f"{_kind_name(kind)})")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer",
             float: "a number", bool: "true or false", type(None): "null"}
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_from_dict(obj: Any, where: str = "check") -> Check:
    """Return the Check that `check_to_dict` wrote."""
    tolerance = Tolerance(rtol=decode_number(_field(obj, "rtol", where, (int, float)), "rtol"),
                          atol=decode_number(_field(obj, "atol", where, (int, float)), "atol"))
    return Check(
        name=_field(obj, "name", where, str),
        mode=_field(obj, "mode", where, str),
        passed=_field(obj, "passed", where, bool),
        max_abs_error=decode_number(_field(obj, "max_abs_error", where, (int, float, str)),
                                    f"{where}.max_abs_error"),
        max_rel_error=decode_number(_field(obj, "max_rel_error", where, (int, float, str)),
                                    f"{where}.max_rel_error"),
        max_ulp=_field(obj, "max_ulp", where, int),
        tolerance=tolerance,
        nonfinite_mismatches=_field(obj, "nonfinite_mismatches", where, int),
        worst_index=tuple(_field(obj, "worst_index", where, list)),
        detail=_field(obj, "detail", where, str),
    )


def _terms_from_dict(obj: dict, values: dict, where: str, shape: list[int]) -> tuple[Term, ...]:
    dtypes = _field(obj, "term_dtypes", where, dict)
    symbols = _field(obj, "symbols", where, dict)
    formulas = _field(obj, "formulas", where, dict)
    terms = []
    for name, value in values.items():
        term_where = f"{where}.terms.{name}"
        if name not in dtypes or name not in symbols or name not in formulas:
            raise TraceError(f"invalid {term_where}: no dtype, symbol or formula for it")
        term_shape = shape if value == [] else None
        terms.append(Term(name, symbols[name], formulas[name],
                          decode_tensor(value, dtypes[name], term_where, term_shape)))
    return tuple(terms)


def param_from_dict(name: str, obj: Any, where: str) -> ParamRecord:
    """Return the ParamRecord that `param_to_dict` wrote for the parameter `name`."""
    dtype = _field(obj, "dtype", where, str)
    shape = _field(obj, "shape", where, list)

    def tensor(key: str) -> torch.Tensor | None:
        value = _field(obj, key, where, (list, int, float, str, type(None)))
        return None if value is None else decode_tensor(value, dtype, f"{where}.{key}", shape)

    state = _field(obj, "state", where, dict)
    state_dtypes = _field(obj, "state_dtypes", where, dict)
    if state.keys() != state_dtypes.keys():
        raise TraceError(f"invalid {where}.state_dtypes: keys differ from {where}.state")
    terms = _terms_from_dict(obj, _field(obj, "terms", where, dict), where, shape)
    carried = terms
    if "carried_terms" in obj:
        carried = _terms_from_dict(obj, _field(obj, "carried_terms", where, dict), where, shape)
    return ParamRecord(
        name=name,
        group=_field(obj, "group", where, int),
        before=tensor("before"),
        after=tensor("after"),
        grad=tensor("grad"),
        state={key: decode_tensor(value, state_dtypes[key], f"{where}.state.{key}")
               for key, value in state.items()},
        terms=terms,
        carried_terms=carried,
        computed_update=tensor("computed_update"),
    )


def record_from_dict(obj: Any) -> StepRecord:
    """Return the StepRecord that `record_to_dict` wrote; raise TraceError if `obj` is not one.

    Tensors come back with their dtype and shape, terms with their symbols and formulas,
    and checks with their tolerances.
    """
    schema = _field(obj, "schema", "step object", int)
    if schema > SCHEMA_VERSION:
        raise TraceError(f"unsupported schema {schema} (this optimstep reads schema "
                         f"{SCHEMA_VERSION} and older; upgrade optimstep to read it)")
    params = _field(obj, "params", "step object", dict)
    checks = _field(obj, "checks", "step object", list)
    groups = _field(obj, "hyperparameters", "step object", list)
    return StepRecord(
        step=_field(obj, "step", "step object", int),
        loss=decode_number(_field(obj, "loss", "step object", (int, float, str)), "loss"),
        params=tuple(param_from_dict(name, value, f"params.{name}")
                     for name, value in params.items()),
        checks=tuple(check_from_dict(check, f"checks[{i}]") for i, check in enumerate(checks)),
        optimizer=_field(obj, "optimizer", "step object", str),
        hyperparameters=tuple({key: decode_value(value) for key, value in
                               _field({"group": group}, "group", f"hyperparameters[{i}]",
                                      dict).items()} for i, group in enumerate(groups)),
        reference=_field(obj, "reference", "step object", str),
    )


def panels_from_dict(obj: Any) -> Panels | None:
    """Return the panels a step object carries, or None if it has none."""
    if not isinstance(obj, dict) or "panels" not in obj:
        return None
    value = obj["panels"]
    try:
        return tuple((str(title), tuple(str(name) for name in names)) for title, names in value)
    except (TypeError, ValueError):
        raise TraceError(f"invalid panels: {_short(value)} (expected [title, [term names]] "
                         f"pairs)") from None


@dataclass(frozen=True)
class Trace:
    """The records of a trace file, in step order."""

    records: tuple[StepRecord, ...]
    """Every complete step of the file."""
    panels: Panels | None
    """Panels stored in the first step, or None where the writer stored none."""
    truncated: bool = False
    """Whether an incomplete last line (a writer stopped mid-line) was left out."""


def read_trace(path: str | os.PathLike[str]) -> Trace:
    """Read a JSON-lines trace, as `check --json` writes it, into records.

    Raises TraceError, whose message is one line naming the file and line, for a file that
    cannot be read, is empty, is not a trace, or has a malformed line. An incomplete last
    line (no newline at the end and not valid JSON) is left out and sets `truncated`.
    """
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise TraceError(f"cannot read trace {os.fspath(path)}: "
                         f"{error.strerror or error}") from None
    lines = data.split(b"\n")
    complete = data.endswith(b"\n")
    records: list[StepRecord] = []
    panels: Panels | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        last = number == len(lines)
        try:
            obj = _parse_line(line, number, incomplete=last and not complete)
        except _Truncated:
            if not records:
                raise TraceError(f"{os.fspath(path)}: no complete step (line {number} is "
                                 f"cut off)") from None
            return Trace(tuple(records), panels, truncated=True)
        except TraceError as error:
            raise TraceError(f"{os.fspath(path)}:{number}: {error}") from None
        _append(records, obj, number, os.fspath(path))
        if len(records) == 1:
            panels = _line_panels(obj, number, os.fspath(path))
    if not records:
        raise TraceError(f"{os.fspath(path)}: empty trace (no steps)")
    return Trace(tuple(records), panels)


class _Truncated(Exception):
    pass


def _parse_line(line: bytes, number: int, incomplete: bool) -> Any:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        if incomplete:
            raise _Truncated from None
        raise TraceError("not UTF-8 text, so not an optimstep trace") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as error:
        if incomplete:
            raise _Truncated from None
        hint = "not an optimstep trace: " if number == 1 else ""
        raise TraceError(f"{hint}invalid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(obj, dict) or "schema" not in obj or "step" not in obj:
        raise TraceError("not an optimstep step record (expected a JSON object with "
                         "\"schema\" and \"step\" keys)")
    return obj


def _append(records: list[StepRecord], obj: Any, number: int, path: str) -> None:
    try:
        record = record_from_dict(obj)
    except TraceError as error:
        raise TraceError(f"{path}:{number}: {error}") from None
    expected = records[-1].step + 1 if records else 1
    if record.step != expected:
        raise TraceError(f"{path}:{number}: step {record.step} is out of order "
                         f"(expected step {expected})")
    records.append(record)


def _line_panels(obj: Any, number: int, path: str) -> Panels | None:
    try:
        return panels_from_dict(obj)
    except TraceError as error:
        raise TraceError(f"{path}:{number}: {error}") from None


def write_records(records: Iterable[StepRecord], file, panels: Panels | None = None) -> None:
    """Write records to a text file as JSON lines, one step per line."""
    for record in records:
        file.write(json.dumps(record_to_dict(record, panels)) + "\n")
