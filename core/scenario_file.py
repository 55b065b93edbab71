"""Scenario files: read a TOML file into a validated Scenario.

A file starts from a preset (`preset = "linear"` unless it names another) and changes
only the keys it sets. Every key is checked; an error is one line that names the file, the
dotted key, the value and what is allowed. The format is described in docs/scenarios.md
and examples/scenario.toml.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from . import models
from .checks import Tolerance
from .custom import check_class_path, constructor_keys
from .data import TASKS, CsvFile, InlineData, Synthetic, TensorFile
from .presets import DEFAULT_PRESET, PRESETS
from .rules import FLAVOURS, RULES
from .scenario import DTYPES, LOSSES, Scenario, ScenarioError
from .toml_table import Table, is_int, is_number

KEYS = ("preset", "name", "description", "seed", "steps", "dtype", "device", "reference",
        "loss", "model", "parameters", "data", "optimizer", "tolerance")
"""Top-level keys of a scenario file, in the order the docs describe them."""

DATA_SOURCES = ("inline", "pt", "csv", "synthetic")
"""Values of `data.source`."""

# Ranges of common hyper-parameters, as (minimum, below) with None for no bound; torch
# checks the rest when it constructs the optimizer.
_RANGES: dict[str, tuple[float | None, float | None]] = {
    "lr": (0.0, None), "eps": (0.0, None), "weight_decay": (0.0, None),
    "momentum": (0.0, None), "dampening": (0.0, None),
}


def load_scenario(path: str | Path) -> Scenario:
    """Read the scenario file at `path`; raise ScenarioError naming the file on any problem."""
    path = Path(path)
    root = Table(path, "", _read(path))
    root.reject_unknown(KEYS)
    base = PRESETS[root.text("preset", PRESETS, default=DEFAULT_PRESET)]

    changes: dict[str, Any] = {"name": path.stem, "source": str(path)}
    changes.update(_scalars(root))
    changes.update(_model(root, base))
    changes.update(_parameters(root))
    changes.update(_data(root, path.parent))
    changes.update(_optimizer(root, base))
    changes.update(_tolerance(root, changes.get("dtype", base.dtype)))
    try:
        return dataclasses.replace(base, **changes)
    except ScenarioError as error:
        raise ScenarioError(f"{path}: {error}") from None


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        reason = "file not found"
    except IsADirectoryError:
        reason = "a directory, not a file"
    except PermissionError:
        reason = "permission denied"
    except OSError as error:
        reason = error.strerror or type(error).__name__
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: invalid TOML: the file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{path}: invalid TOML: {error}") from None
    raise ScenarioError(f"invalid scenario file: '{path}' ({reason})")


def _scalars(root: Table) -> dict[str, Any]:
    readers = {
        "name": lambda: root.text("name"),
        "description": lambda: root.text("description"),
        "seed": lambda: root.integer("seed"),
        "steps": lambda: root.integer("steps", minimum=1),
        "dtype": lambda: root.text("dtype", DTYPES),
        "device": lambda: root.text("device"),
        "reference": lambda: root.text("reference", FLAVOURS),
        "loss": lambda: root.text("loss", LOSSES),
    }
    return {key: read() for key, read in readers.items() if key in root}


def _model(root: Table, base: Scenario) -> dict[str, Any]:
    table = root.table("model")
    if table is None:
        return {}
    kind = table.text("kind", models.MODELS, default=base.model)
    spec = models.MODELS[kind]
    features = ("in_features", "out_features") if spec.uses_features else ()
    table.reject_unknown(("kind", *features, *spec.options))

    same_kind = kind == base.model
    changes: dict[str, Any] = {"model": kind}
    for key in features:
        changes[key] = table.integer(key, minimum=1,
                                     default=getattr(base, key) if same_kind else 1)
    from_file = {key: table.values[key] for key in spec.options if key in table}
    options = {**(base.model_options if same_kind else {}), **from_file}
    try:
        filled = models.model_options(kind, options)
    except ScenarioError as error:
        raise ScenarioError(f"{table.file}: {error}") from None
    changes["model_options"] = options
    if spec.loss is not None and "loss" not in root:
        changes["loss"] = spec.loss

    # The base's initial values fit only the base's model; another model starts seeded.
    same_model = same_kind and filled == models.model_options(base.model, base.model_options) \
        and all(changes.get(key, getattr(base, key)) == getattr(base, key) for key in features)
    if not same_model:
        changes["parameters"] = {}
    return changes


def _parameters(root: Table) -> dict[str, Any]:
    table = root.table("parameters")
    if table is None:
        return {}
    values: dict[str, Any] = {}
    _flatten(table, "", values)
    return {"parameters": values}


def _flatten(table: Table, prefix: str, out: dict[str, Any]) -> None:
    # An unquoted dotted key such as hidden1.weight parses as nested tables; join it back.
    for key, value in table.values.items():
        if isinstance(value, dict):
            _flatten(Table(table.file, f"{table.prefix}{key}.", value), f"{prefix}{key}.", out)
        elif not _is_numeric_array(value):
            raise table.error(key, value, "a number or an array of numbers (nested for "
                                          "matrices)")
        else:
            out[prefix + key] = value


def _is_numeric_array(value: Any) -> bool:
    if isinstance(value, list):
        return len(value) > 0 and all(_is_numeric_array(item) for item in value)
    return is_int(value) or isinstance(value, float)


def _data(root: Table, folder: Path) -> dict[str, Any]:
    table = root.table("data")
    if table is None:
        return {}
    source = table.text("source", DATA_SOURCES)
    readers = {"inline": _inline_data, "pt": _tensor_file, "csv": _csv_file,
               "synthetic": _synthetic_data}
    data, keys = readers[source](table, folder)
    table.reject_unknown(("source", "batch_size", "shuffle", *keys))
    return {"data": data,
            "batch_size": table.integer("batch_size", minimum=1, default=None),
            "shuffle": table.boolean("shuffle", default=False)}


def _inline_data(table: Table, folder: Path) -> tuple[InlineData, tuple[str, ...]]:
    allowed = "an array of numbers, or of arrays of numbers, one entry per sample"
    inputs, targets = (table.get(key, _is_numeric_array(table.values.get(key)), allowed)
                       for key in ("inputs", "targets"))
    return InlineData(inputs, targets), ("inputs", "targets")


def _tensor_file(table: Table, folder: Path) -> tuple[TensorFile, tuple[str, ...]]:
    data = TensorFile(_path(table, folder), table.text("inputs", default="inputs"),
                      table.text("targets", default="targets"))
    return data, ("path", "inputs", "targets")


def _csv_file(table: Table, folder: Path) -> tuple[CsvFile, tuple[str, ...]]:
    delimiter = table.get("delimiter", isinstance(table.values.get("delimiter"), str)
                          and len(table.values["delimiter"]) == 1, "one character", ",")
    data = CsvFile(_path(table, folder), _columns(table, "inputs"), _columns(table, "targets"),
                   table.boolean("header", default=True), delimiter)
    return data, ("path", "inputs", "targets", "header", "delimiter")


def _columns(table: Table, key: str) -> tuple[str | int, ...]:
    value = table.values.get(key, [])
    columns = value if isinstance(value, list) else [value]
    valid = all(isinstance(c, str) or (is_int(c) and c >= 0) for c in columns)
    table.get(key, valid, "a column name, a 0-based column index, or an array of them", [])
    return tuple(columns)


def _synthetic_data(table: Table, folder: Path) -> tuple[Synthetic, tuple[str, ...]]:
    data = Synthetic(table.text("task", TASKS, default="regression"),
                     table.integer("samples", minimum=1, default=256),
                     table.integer("features", minimum=1, default=8),
                     table.integer("outputs", minimum=1, default=1),
                     table.number("noise", minimum=0.0, default=0.1),
                     table.integer("seed", default=0))
    return data, ("task", "samples", "features", "outputs", "noise", "seed")


def _path(table: Table, folder: Path) -> Path:
    value = table.text("path")
    # Relative paths are relative to the scenario file, so a file and its data move together.
    path = (folder / Path(value).expanduser()).resolve()
    if not path.is_file():
        reason = "not a file" if path.exists() else "file not found"
        raise table.failure("path", value, f"{reason}: {path}")
    return path


def _optimizer(root: Table, base: Scenario) -> dict[str, Any]:
    table = root.table("optimizer")
    if table is None:
        return {}
    if "name" in table and "class" in table:
        raise table.failure("class", table.values["class"],
                            "set either optimizer.name or optimizer.class, not both")
    name = table.text("name", RULES, default=base.optimizer)
    optimizer_class = table.text("class", default=None)
    if optimizer_class is not None:
        _checked(table, lambda: check_class_path(optimizer_class, key="optimizer.class"))
    reference_rule = table.text("reference_rule", RULES, default=base.reference_rule)

    named_class = None if optimizer_class else RULES[name].optimizer_class
    keys = constructor_keys(named_class) if named_class else None
    special = ("name", "class", "reference_rule", "param_groups")
    if keys is not None:
        table.reject_unknown((*special, *keys))
    hyperparameters = {key: _hyperparameter(table, key)
                       for key in table.values if key not in special}

    unchanged = optimizer_class == base.optimizer_class and name == base.optimizer
    if unchanged:
        hyperparameters = {**base.hyperparameters, **hyperparameters}
    changes = {"optimizer": name, "optimizer_class": optimizer_class,
               "reference_rule": reference_rule, "hyperparameters": hyperparameters}
    if "param_groups" in table:
        changes["param_groups"] = _param_groups(table, keys)
    return changes


def _checked(table: Table, check: Any) -> None:
    try:
        check()
    except ScenarioError as error:
        raise ScenarioError(f"{table.file}: {error}") from None


def _hyperparameter(table: Table, key: str) -> Any:
    value = table.values[key]
    if key == "betas":
        ok = isinstance(value, list) and len(value) == 2 \
            and all(is_number(b) and 0 <= b < 1 for b in value)
        return tuple(table.get(key, ok, "an array of two numbers >= 0 and < 1"))
    if key in _RANGES:
        minimum, below = _RANGES[key]
        return table.number(key, minimum, below)
    if isinstance(value, list):
        return tuple(table.get(key, all(is_number(v) for v in value),
                               "an array of finite numbers"))
    ok = isinstance(value, (bool, str)) or is_number(value)
    return table.get(key, ok, "a finite number, true or false, a string, or an array of "
                              "numbers")


def _param_groups(table: Table, keys: tuple[str, ...] | None) -> tuple[dict[str, Any], ...]:
    value = table.values["param_groups"]
    table.get("param_groups", isinstance(value, list)
              and all(isinstance(group, dict) for group in value),
              "an array of tables: [[optimizer.param_groups]]")
    groups = []
    for index, raw in enumerate(value):
        group = Table(table.file, f"optimizer.param_groups[{index}].", raw)
        if keys is not None:
            group.reject_unknown(("params", *keys))
        names = raw.get("params")
        valid = isinstance(names, list) and len(names) > 0 \
            and all(isinstance(name, str) for name in names)
        group.get("params", valid, "a non-empty array of parameter names")
        overrides = {key: _hyperparameter(group, key) for key in raw if key != "params"}
        groups.append({"params": tuple(names), **overrides})
    return tuple(groups)


def _tolerance(root: Table, dtype: str) -> dict[str, Any]:
    table = root.table("tolerance")
    if table is None:
        return {}
    table.reject_unknown(("rtol", "atol"))
    default = Tolerance.for_dtype(DTYPES[dtype])
    return {"tolerance": Tolerance(rtol=table.number("rtol", 0.0, default=default.rtol),
                                   atol=table.number("atol", 0.0, default=default.atol))}
