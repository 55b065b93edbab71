"""A widget base whose content is replaced in place, repainting only the lines that changed."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from textual.geometry import Region
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget


class LineRefreshWidget(Widget):
    """A widget showing one renderable, which `replace_content` swaps without a full repaint.

    `refresh()` repaints a whole widget, which for every panel at 80x24 is most of the
    screen on each step. Comparing the new lines with the lines last drawn and refreshing
    only those that differ keeps what is written to the terminal per step small.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._content: RenderableType = ""
        self._drawn: list[Strip] = []
        self._drawn_width = 0

    def render(self) -> RenderableType:
        return self._content

    def replace_content(self, content: RenderableType) -> None:
        """Show `content`, repainting the lines that changed, or everything if its height did."""
        self._content = content
        width = self.content_size.width
        if not self.is_mounted or width == 0:
            self._drawn, self._drawn_width = [], 0
            self.refresh(layout=True)
            return

        lines = Visual.to_strips(self, visualize(self, content), width, None, self.visual_style)
        drawn, self._drawn = self._drawn, lines
        if len(lines) != len(drawn) or width != self._drawn_width:
            self._drawn_width = width
            self.refresh(layout=True)
            return
        changed = [Region(0, y, width, 1)
                   for y, (line, previous) in enumerate(zip(lines, drawn)) if line != previous]
        if changed:
            self.refresh(*changed)
