"""The position of a source on its history, read in the stepping thread for the header."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optimstep.core.stepper import group_hyperparameters

BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


@dataclass(frozen=True)
class Position:
    """The step a source is at, how far its history reaches, and what that history costs."""

    step: int
    """The current step (0: before the first step)."""
    last: int | None = None
    """The last step the source can return to without stepping: a Stepper's latest step or
    a trace's final step. None for a source without history."""
    history_bytes: int | None = None
    """Memory the history holds, in bytes; None for a source without a history budget."""
    history_budget_bytes: int | None = None
    """Memory the history may hold, in bytes."""
    hyperparameters: tuple[Mapping[str, Any], ...] | None = None
    """Hyper-parameters of each param group for the next step, as the live optimizer has
    them after any edit. None for a source without a live optimizer, such as a trace."""


def read_position(source: Any) -> Position:
    """Read a source's position; call it from the thread that steps the source.

    Reads only what the source has: a Stepper reports its history and live param groups,
    a trace its final step, and a minimal source just its step count.
    """
    last = getattr(source, "latest_step", None)
    if last is None:
        last = getattr(source, "total_steps", None)
    optimizer = getattr(source, "optimizer", None)
    groups = None
    if optimizer is not None:
        groups = tuple(group_hyperparameters(group) for group in optimizer.param_groups)
    return Position(source.step_count, last, getattr(source, "history_bytes", None),
                    getattr(source, "history_budget_bytes", None), groups)


def format_bytes(count: int) -> str:
    """Format a byte count in binary units with 3 significant digits, as `30.1 KiB`."""
    value = float(count)
    for unit in BYTE_UNITS:
        if abs(value) < 1024 or unit == BYTE_UNITS[-1]:
            break
        value /= 1024
    if unit == "B":
        return f"{count} B"
    return f"{value:.3g} {unit}" if value < 1000 else f"{value:.0f} {unit}"


def describe_history(position: Position) -> str:
    """Describe the history's memory as `history 30.1 KiB/256 MiB`, or "" without a budget."""
    if position.history_bytes is None or position.history_budget_bytes is None:
        return ""
    return (f"history {format_bytes(position.history_bytes)}/"
            f"{format_bytes(position.history_budget_bytes)}")
