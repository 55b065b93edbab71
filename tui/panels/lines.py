"""A widget base whose content is replaced in place, repainting only the lines that changed."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
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
        changed = []
        for y, (line, previous) in enumerate(zip(lines, drawn)):
            start, end = changed_cells(line, previous)
            if end > start:
                changed.append(Region(start, y, end - start, 1))
        if changed:
            self.refresh(*changed)


def changed_cells(line: Strip, previous: Strip) -> tuple[int, int]:
    """Return the cells [start, end) that differ between two lines, or (0, 0) if none do.

    Lines are compared character by character with each character's style. When they
    contain different numbers of characters, the whole line counts as changed. Textual 8.2
    writes a changed span from the widget's left edge, so the end is what saves bytes.
    """
    if line == previous:
        return 0, 0
    characters, previous_characters = _styled_characters(line), _styled_characters(previous)
    if len(characters) != len(previous_characters):
        # A line that got shorter must also repaint the cells its old text covered.
        return 0, max(line.cell_length, previous.cell_length)

    pairs = list(zip(characters, previous_characters))
    first = next(i for i, (new, old) in enumerate(pairs) if new != old)
    last = max(i for i, (new, old) in enumerate(pairs) if new != old)
    text = line.text
    return cell_len(text[:first]), cell_len(text[:last + 1])


def _styled_characters(line: Strip) -> list[tuple[str, object]]:
    return [(character, segment.style) for segment in line for character in segment.text]
