"""Figures: repeated measurements with their baseline, ratio and target."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

UNITS = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "B": 1.0, "KiB": 1024.0, "MiB": 2.0**20}
"""Display units and their size in the base unit (seconds or bytes)."""


@dataclass(frozen=True)
class Sample:
    """Repeated measurements of one quantity, in seconds or bytes."""

    values: tuple[float, ...]
    """Each measurement, in the order taken."""
    unit: str = "ms"
    """Unit the figure is shown in, a key of UNITS; values stay in seconds or bytes."""

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a sample needs at least one measurement")
        if self.unit not in UNITS:
            raise ValueError(f"invalid unit: {self.unit!r} (expected one of {', '.join(UNITS)})")

    @property
    def median(self) -> float:
        """Median of the measurements."""
        return statistics.median(self.values)

    @property
    def minimum(self) -> float:
        """Smallest measurement."""
        return min(self.values)

    @property
    def maximum(self) -> float:
        """Largest measurement."""
        return max(self.values)

    def describe(self) -> str:
        """Return `median (min–max) unit`, or one value with its unit when measured once."""
        scale = UNITS[self.unit]
        median = _number(self.median / scale)
        if len(self.values) == 1 or self.minimum == self.maximum:
            return f"{median} {self.unit}"
        low, high = _number(self.minimum / scale), _number(self.maximum / scale)
        return f"{median} ({low}–{high}) {self.unit}"


@dataclass(frozen=True)
class Target:
    """An upper bound a figure should meet: on its ratio to the baseline, or on its median."""

    limit: float
    """The bound, a ratio or a value in the sample's base unit (seconds or bytes)."""
    on_ratio: bool = True
    """Whether the bound applies to the ratio (True) or to the median itself (False)."""
    text: str = ""
    """The target as the page states it, e.g. `≤ 1.5×`."""

    def met_by(self, figure: Figure) -> bool | None:
        """Return whether `figure` meets this target; None when it has no ratio to judge."""
        value = figure.ratio if self.on_ratio else figure.measured.median
        return None if value is None else value <= self.limit


@dataclass(frozen=True)
class Figure:
    """One benchmark figure: what was measured, against what, and the target it should meet."""

    group: str
    """The benchmark it belongs to, e.g. `check overhead`."""
    name: str
    """The quantity measured, e.g. `default scenario, per step`."""
    measured: Sample
    """The measurements."""
    baseline: Sample | None = None
    """The baseline measured in the same run, or None."""
    baseline_name: str = ""
    """The baseline's name, e.g. `bare loop`."""
    target: Target | None = None
    """The bound this figure should meet, or None for a figure given for information."""
    notes: tuple[str, ...] = field(default=())
    """Facts needed to read the figure, e.g. how many steps a run took."""

    @property
    def ratio(self) -> float | None:
        """Median over the baseline's median, or None without a baseline."""
        if self.baseline is None or self.baseline.median == 0:
            return None
        return self.measured.median / self.baseline.median

    @property
    def met(self) -> bool | None:
        """Whether the target is met; None without a target or a ratio to judge."""
        return None if self.target is None else self.target.met_by(self)


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"
