"""The main screen's layout: the panels give up rows so that the assertion log keeps its own."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from textual.geometry import Region, Size
from textual.layout import ArrangeResult, WidgetPlacement
from textual.layouts.vertical import VerticalLayout

if TYPE_CHECKING:
    from textual.widget import Widget


class FittingLayout(VerticalLayout):
    """A vertical layout in which some widgets shrink when the children overflow the height.

    Textual's vertical layout gives a `height: auto` widget all the rows of its content and
    lets the screen scroll when that is too much, which can push the widgets below it off
    screen. Here the widgets whose id is in `shrinking` give up rows first, down to
    `min_height` each, and the widgets after them move up. A shrunk container needs
    `overflow-y: auto` to scroll to the rows it no longer shows.
    """

    name = "vertical"

    def __init__(self, shrinking: Collection[str], min_height: int) -> None:
        super().__init__()
        self.shrinking = frozenset(shrinking)
        self.min_height = min_height

    def arrange(self, parent: Widget, children: list[Widget], size: Size,
                greedy: bool = True) -> ArrangeResult:
        placements = super().arrange(parent, children, size, greedy)
        overflow = _bottom(placements) - size.height
        if overflow <= 0:
            return placements

        fitted: list[WidgetPlacement] = []
        shift = 0
        for placement in placements:
            region = placement.region.translate((0, -shift))
            if overflow > 0 and placement.widget.id in self.shrinking:
                cut = min(overflow, max(region.height - self.min_height, 0))
                region = Region(region.x, region.y, region.width, region.height - cut)
                overflow -= cut
                shift += cut
            fitted.append(placement._replace(region=region))
        return fitted


def _bottom(placements: ArrangeResult) -> int:
    return max((placement.region.bottom + placement.margin.bottom for placement in placements
                if not placement.overlay and not placement.absolute), default=0)
