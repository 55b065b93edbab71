"""Typed reads from a parsed TOML table, with one-line errors naming the file and the key."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .scenario import ScenarioError

_MISSING = object()


def short_repr(value: Any, limit: int = 60) -> str:
    """Return a value as TOML writes it (true, 'text', [1, 2]), cut to `limit` characters."""
    text = _toml_repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _toml_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_repr(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {_toml_repr(item)}" for key, item in value.items()) + "}"
    return repr(value)


def is_int(value: Any) -> bool:
    """Return whether a TOML value is an integer (TOML booleans are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Return whether a TOML value is a finite integer or float."""
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


class Table:
    """One table of a scenario file; `prefix` is its dotted name, e.g. `optimizer.`."""

    def __init__(self, file: Path, prefix: str, values: Mapping[str, Any]) -> None:
        self.file = file
        self.prefix = prefix
        self.values = values

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def error(self, key: str, value: Any, allowed: str) -> ScenarioError:
        """Return the error for an invalid value at `key`."""
        return self.failure(key, value, f"expected {allowed}")

    def failure(self, key: str, value: Any, reason: str) -> ScenarioError:
        """Return the error for the value at `key`, with the reason it failed."""
        return ScenarioError(f"{self.file}: invalid {self.prefix}{key}: {short_repr(value)} "
                             f"({reason})")

    def reject_unknown(self, known: Iterable[str]) -> None:
        """Raise ScenarioError for the first key not in `known`."""
        known = tuple(known)
        for key, value in self.values.items():
            if key not in known:
                raise ScenarioError(f"{self.file}: unknown key {self.prefix}{key} = "
                                    f"{short_repr(value)} (expected one of: "
                                    f"{', '.join(known)})")

    def get(self, key: str, valid: bool | None = None, allowed: str = "",
            default: Any = _MISSING) -> Any:
        """Return the value at `key`; raise unless it is present (or defaulted) and `valid`."""
        if key not in self.values:
            if default is _MISSING:
                raise ScenarioError(f"{self.file}: missing key {self.prefix}{key} "
                                    f"(expected {allowed})")
            return default
        value = self.values[key]
        if valid is False:
            raise self.error(key, value, allowed)
        return value

    def text(self, key: str, choices: Iterable[str] | None = None,
             default: Any = _MISSING) -> Any:
        """Return a string, one of `choices` when given."""
        choices = None if choices is None else tuple(choices)
        value = self.values.get(key)
        allowed = f"one of {', '.join(choices)}" if choices is not None else "a string"
        ok = isinstance(value, str) and (choices is None or value in choices)
        return self.get(key, ok, allowed, default)

    def integer(self, key: str, minimum: int | None = None, default: Any = _MISSING) -> Any:
        """Return an integer, at least `minimum` when given."""
        value = self.values.get(key)
        ok = is_int(value) and (minimum is None or value >= minimum)
        allowed = "an integer" + ("" if minimum is None else f" >= {minimum}")
        return self.get(key, ok, allowed, default)

    def number(self, key: str, minimum: float | None = None, below: float | None = None,
               default: Any = _MISSING) -> Any:
        """Return a finite number in [minimum, below) where those are given."""
        value = self.values.get(key)
        ok = is_number(value) and (minimum is None or value >= minimum) \
            and (below is None or value < below)
        allowed = "a finite number" + ("" if minimum is None else f" >= {minimum}") \
            + ("" if below is None else f" and < {below}")
        return self.get(key, ok, allowed, default)

    def boolean(self, key: str, default: Any = _MISSING) -> Any:
        """Return true or false."""
        return self.get(key, isinstance(self.values.get(key), bool), "true or false", default)

    def table(self, key: str) -> Table | None:
        """Return the sub-table at `key`, or None when absent."""
        if key not in self.values:
            return None
        value = self.get(key, isinstance(self.values[key], dict), f"a table: [{self.prefix}{key}]")
        return Table(self.file, f"{self.prefix}{key}.", value)
