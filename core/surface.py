"""The loss over a grid of two scalar parameters, for a contour plot of the path of a step.

The loss is evaluated on a copy of the model under `torch.no_grad()`, and torch's RNG is
restored afterwards, so the live model and the run it steps are left exactly as they were.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

Batch = tuple[torch.Tensor, torch.Tensor]

RESOLUTION = 33
"""Grid points along each axis."""


def scalar_pair(model: torch.nn.Module) -> tuple[str, str] | None:
    """Return the names of the model's parameters if it has exactly two real scalars."""
    params = list(model.named_parameters())
    if len(params) != 2:
        return None
    if any(p.numel() != 1 or not p.is_floating_point() for _, p in params):
        return None
    return params[0][0], params[1][0]


@dataclass(frozen=True)
class Surface:
    """The loss at each point of a grid: `losses[j][i]` is the loss at (xs[i], ys[j])."""

    names: tuple[str, str]
    """The parameters on the x and y axes."""
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    losses: tuple[tuple[float, ...], ...]

    def contains(self, x: float, y: float) -> bool:
        """Whether (x, y) lies inside the grid."""
        return self.xs[0] <= x <= self.xs[-1] and self.ys[0] <= y <= self.ys[-1]


class LossSurface:
    """Evaluates a model's mean loss over its batches at chosen values of two scalars."""

    def __init__(self, model: torch.nn.Module,
                 loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 batches: Sequence[Batch]) -> None:
        names = scalar_pair(model)
        if names is None:
            raise ValueError("a loss surface needs a model with exactly two scalar parameters")
        self.names = names
        self.model = copy.deepcopy(model)
        self.loss_fn = loss_fn
        self.batches = tuple(batches)

    def evaluate(self, x_range: tuple[float, float], y_range: tuple[float, float],
                 resolution: int = RESOLUTION) -> Surface:
        """Return the losses on a `resolution` × `resolution` grid over the two ranges."""
        xs, ys = _points(*x_range, resolution), _points(*y_range, resolution)
        params = dict(self.model.named_parameters())
        first, second = params[self.names[0]], params[self.names[1]]
        rows = []
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            for y in ys:
                second.fill_(y)
                row = []
                for x in xs:
                    first.fill_(x)
                    row.append(self._loss())
                rows.append(tuple(row))
        return Surface(self.names, xs, ys, tuple(rows))

    def _loss(self) -> float:
        total = sum(float(self.loss_fn(self.model(inputs), targets))
                    for inputs, targets in self.batches)
        return total / len(self.batches)


def bounds(points: Sequence[tuple[float, float]], margin: float = 0.5,
           min_span: float = 1.0) -> tuple[tuple[float, float], tuple[float, float]]:
    """Return x and y ranges around `points`, widened by `margin` of their span each side.

    A span narrower than `min_span` (e.g. a single point) is widened to it.
    """
    ranges = []
    for axis in (0, 1):
        low, high = min(p[axis] for p in points), max(p[axis] for p in points)
        span = max(high - low, min_span)
        middle = (low + high) / 2
        half = span * (0.5 + margin)
        ranges.append((middle - half, middle + half))
    return ranges[0], ranges[1]


def contour_levels(surface: Surface, count: int = 8) -> list[float]:
    """Return `count` loss levels between the lowest and highest loss of the grid.

    Positive losses get geometric spacing, so the levels crowd where the loss is small,
    near the minimum; otherwise the spacing is even. Non-finite losses are ignored.
    """
    values = [v for row in surface.losses for v in row if math.isfinite(v)]
    if not values or min(values) == max(values):
        return []
    low, high = min(values), max(values)
    fractions = [(k + 1) / (count + 1) for k in range(count)]
    if low > 0:
        return [low * (high / low) ** f for f in fractions]
    return [low + (high - low) * f for f in fractions]


def contour_points(surface: Surface, level: float) -> list[tuple[float, float]]:
    """Return the points where the loss crosses `level` along the grid's edges.

    Each edge between neighbouring grid points whose losses lie on either side of the
    level contributes the linearly interpolated crossing; together they trace the contour.
    """
    xs, ys, z = surface.xs, surface.ys, surface.losses
    points = []
    for j, y in enumerate(ys):
        for i, x in enumerate(xs):
            if i + 1 < len(xs):
                crossing = _crossing(z[j][i], z[j][i + 1], level)
                if crossing is not None:
                    points.append((x + crossing * (xs[i + 1] - x), y))
            if j + 1 < len(ys):
                crossing = _crossing(z[j][i], z[j + 1][i], level)
                if crossing is not None:
                    points.append((x, y + crossing * (ys[j + 1] - y)))
    return points


def _crossing(a: float, b: float, level: float) -> float | None:
    if not (math.isfinite(a) and math.isfinite(b)) or (a < level) == (b < level):
        return None
    return (level - a) / (b - a)


def _points(low: float, high: float, count: int) -> tuple[float, ...]:
    return tuple(low + (high - low) * k / (count - 1) for k in range(count))
