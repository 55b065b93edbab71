"""Plots of a run: the loss, the selected element's values, and the path over the loss surface.

Each plot is a `textual_plotext.PlotextPlot`, which draws with plotext inside a widget.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from optimstep.core.surface import Surface, contour_levels, contour_points

logger = logging.getLogger(__name__)

UNICODE_MARKERS = ("braille", "braille", "braille", "braille")
"""Markers of the series of one plot where colour distinguishes them."""
PLAIN_MARKERS = ("*", "+", "o", "x")
"""Markers of the series of one plot without colour or Unicode: each series its own."""
# NOTE: plotext 5.3 draws axes with box-drawing characters and marks the right-hand axis
# in legends with "⅃" even where the markers are ASCII; the Linux console has the former.
CONTOUR_COLOUR = "gray"
CONTOUR_LEVELS = 5
"""Contour lines drawn; more crowd a plot of 80x24's quarter."""


@dataclass(frozen=True)
class Series:
    """One line of a plot."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    right: bool = False
    """Whether the series uses the right-hand y axis (for a different scale)."""


class SafePlot(PlotextPlot):
    """A plotext plot whose drawing errors show as a line of text instead of ending the app."""

    def render(self) -> RenderResult:
        try:
            return super().render()
        except Exception as error:  # plotext raises many kinds on unusual data
            logger.warning("plot %s failed: %s: %s", self.id, type(error).__name__, error)
            return Text(f"plot unavailable: {type(error).__name__}: {error}", style="dim")


class SeriesPlot(SafePlot):
    """Lines over steps, e.g. the loss, or θ and m of the selected element."""

    def show(self, title: str, series: Sequence[Series], plain: bool = False,
             log_y: bool = False) -> None:
        """Draw `series` under `title`; `plain` uses ASCII markers, one per series."""
        plt = self.plt
        plt.clear_figure()
        plt.title(title)
        markers = PLAIN_MARKERS if plain else UNICODE_MARKERS
        drawn = [line for line in series if _finite_points(line.xs, line.ys)[0]]
        for position, line in enumerate(drawn):
            xs, ys = _finite_points(line.xs, line.ys)
            side = "right" if line.right else "left"
            # A single line needs no legend: the title names it.
            label = line.label if len(drawn) > 1 else None
            plt.plot(xs, ys, marker=markers[position % len(markers)], label=label, yside=side)
        values = {y for line in drawn for y in _finite_points(line.xs, line.ys)[1]}
        # plotext's log scale fails on a single value, whose ticks reach zero or below.
        if log_y and len(values) > 1 and min(values) > 0:
            plt.yscale("log")
        self.refresh()


class PathPlot(SafePlot):
    """The two parameters' path, step by step, over contour lines of the loss."""

    def show(self, names: tuple[str, str], path: Sequence[tuple[float, float]],
             surface: Surface | None, plain: bool = False) -> None:
        """Draw `path` (initial point first) over `surface`'s contours, if there is one."""
        plt = self.plt
        plt.clear_figure()
        plt.title(f"path over loss contours: x {names[0]}, y {names[1]}")
        if surface is not None:
            xs, ys = [], []
            for level in contour_levels(surface, CONTOUR_LEVELS):
                for x, y in contour_points(surface, level):
                    xs.append(x)
                    ys.append(y)
            if xs:
                plt.scatter(xs, ys, marker="." if plain else "braille", color=CONTOUR_COLOUR)
            plt.xlim(surface.xs[0], surface.xs[-1])
            plt.ylim(surface.ys[0], surface.ys[-1])
        if path:
            plt.plot([p[0] for p in path], [p[1] for p in path], marker="*" if plain else "hd",
                     label="path")
            plt.scatter([path[-1][0]], [path[-1][1]], marker="x" if plain else "●",
                        label="now")
        self.refresh()


def _finite_points(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys) if math.isfinite(y)]
    return [x for x, _ in pairs], [y for _, y in pairs]
