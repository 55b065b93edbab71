"""A borderless table that fits the width it is rendered at, for the panels."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import torch
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from .columns import Column, render_rows
from .format import ELEMENT_LIMIT, format_tensor

Cell = str | Text | torch.Tensor
"""A table cell: text as it is, or a tensor formatted to fit."""

GAP = 2
"""Spaces between columns."""
NOTE_MIN_WIDTH = 12
"""Narrowest note column worth showing; below this the notes are left out."""
INDENT = "  "
"""Indent of the value lines under a row's label, when the table is stacked."""
FIT_ATTEMPTS = (*((limit, GAP) for limit in range(ELEMENT_LIMIT, 0, -1)), (1, 1))
"""(Elements shown per tensor, spaces between columns), tried in order until a table fits.
A table one space apart reads better than stacked rows, which take many more lines."""


class FittedTable:
    """Rows of cells under headers, with an optional note (e.g. a formula) per row.

    The first column contains each row's label. Tensor cells show as many leading elements
    (3, then 2, then 1) as let the table fit, and then one element with one space between
    columns instead of GAP. The note column takes the width left and is dropped when less
    than NOTE_MIN_WIDTH is left. When even that is too wide, each row is stacked instead:
    its label on a line, then one line per headed cell. Either way nothing is wider than
    the width given, so no horizontal scrolling is needed.
    """

    def __init__(
        self,
        rows: Sequence[Sequence[Cell]],
        headers: Sequence[str],
        notes: Sequence[str] | None = None,
        note_header: str = "",
        show_header: bool = True,
    ) -> None:
        self.rows = rows
        self.headers = headers
        self.notes = notes
        self.note_header = note_header
        self.show_header = show_header

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        for limit, gap in FIT_ATTEMPTS:
            cells = [[_text(cell, limit) for cell in row] for row in self.rows]
            used = self._table_width(cells, gap)
            if used <= width:
                yield from merged(self._rendered(console, options, cells, width - used - gap,
                                                 gap))
                return
        yield from self._stacked(width)

    def _rendered(self, console: Console, options: ConsoleOptions, cells: list[list[Text]],
                  room: int, gap: int = GAP) -> Iterable[Segment]:
        """Render the table as `_table` would be rendered by Rich, several times faster."""
        notes = self._notes(room)
        columns = [Column(header, "left" if index == 0 else "right", padding=gap)
                   for index, header in enumerate(self.headers)]
        if notes:
            columns.append(Column(self.note_header, style="dim", max_width=room))
        # pad_edge=False: no padding after the last column.
        columns[-1] = dataclasses.replace(columns[-1], padding=0)
        rows = [[*row, *([notes[index]] if notes else [])] for index, row in enumerate(cells)]
        segments = render_rows(console, options, columns, rows, self.show_header, "bold")
        if segments is None:
            return console.render(self._table(cells, room, gap), options)
        return segments

    def _table(self, cells: list[list[Text]], room: int, gap: int = GAP) -> Table:
        table = Table(box=None, show_header=self.show_header, header_style="bold",
                      padding=(0, gap, 0, 0), pad_edge=False, expand=False)
        for index, header in enumerate(self.headers):
            table.add_column(header, justify="left" if index == 0 else "right",
                             no_wrap=True, overflow="ellipsis")
        notes = self._notes(room)
        if notes:
            table.add_column(self.note_header, style="dim", no_wrap=True, overflow="ellipsis",
                             max_width=room)
        for index, row in enumerate(cells):
            table.add_row(*row, *([notes[index]] if notes else []))
        return table

    def _notes(self, room: int) -> Sequence[str] | None:
        return self.notes if self.notes and room >= NOTE_MIN_WIDTH else None

    def _table_width(self, cells: list[list[Text]], gap: int = GAP) -> int:
        widths = [cell_len(header) if self.show_header else 0 for header in self.headers]
        for row in cells:
            for index, text in enumerate(row):
                widths[index] = max(widths[index], text.cell_len)
        return sum(widths) + gap * (len(widths) - 1)

    def _stacked(self, width: int) -> Iterable[Text]:
        header_width = max(cell_len(header) for header in self.headers)
        for index, row in enumerate(self.rows):
            label = _text(row[0], 1)
            if self.notes:
                label.append(f"{' ' * GAP}{self.notes[index]}", style="dim")
            yield _line(label)
            for header, cell in zip(self.headers[1:], row[1:]):
                if header:
                    prefix = f"{INDENT}{header:<{header_width}}{' ' * GAP}"
                    yield _line(Text(prefix) + _fitted(cell, width - cell_len(prefix)))


def merged(segments: Iterable[Segment]) -> Iterable[Segment]:
    """Merge neighbouring segments of the same style, so fewer style codes reach the terminal.

    Rich pads table cells with an empty `Style()` and leaves cell text unstyled (None).
    Both mean the default style, so they are made equal before merging.
    """
    return Segment.simplify(Segment(text, style or None, control)
                            for text, style, control in segments)


def _text(cell: Cell, limit: int) -> Text:
    if isinstance(cell, torch.Tensor):
        return Text(format_tensor(cell, limit))
    return cell.copy() if isinstance(cell, Text) else Text(cell)


def _fitted(cell: Cell, room: int) -> Text:
    for limit in range(ELEMENT_LIMIT, 1, -1):
        text = _text(cell, limit)
        if text.cell_len <= room:
            return text
    return _text(cell, 1)


def _line(text: Text) -> Text:
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text
