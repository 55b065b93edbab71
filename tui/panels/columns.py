"""Rows of one-line cells, rendered as a borderless Rich Table renders them but without its
measuring and padding machinery, which cost most of a step's redraw."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, JustifyMethod
from rich.segment import Segment
from rich.style import Style
from rich.text import Text


@dataclass(frozen=True)
class Column:
    """One column: its header, justification, style and the spaces after it."""

    header: str
    """Header text, read as console markup as Rich's Table reads it."""
    justify: JustifyMethod = "left"
    """How cells are aligned in the column's width."""
    style: str = ""
    """Style of the column's cells (not of its header)."""
    max_width: int | None = None
    """Widest the column may be, padding aside; longer cells end in an ellipsis."""
    padding: int = 0
    """Spaces after each cell."""


def render_rows(console: Console, options: ConsoleOptions, columns: Sequence[Column],
                rows: Sequence[Sequence[Text | str]], show_header: bool,
                header_style: str) -> list[Segment] | None:
    """Return the segments of Rich's Table(box=None, expand=False) with these columns, or None.

    Every column is `no_wrap` with `overflow="ellipsis"`, and the padding comes after the
    cell. None means a case this does not reproduce: columns wider than `options.max_width`,
    which Rich's Table would shrink, or a cell of several lines.
    """
    cells = [[_as_text(console, options, cell) for cell in row] for row in rows]
    headers = [_as_text(console, options, column.header) for column in columns]
    shown = [headers, *cells] if show_header else cells
    if any("\n" in text.plain for row in shown for text in row):
        return None
    widths = _widths(columns, shown, options.max_width)
    if sum(widths) > options.max_width:
        return None

    segments: list[Segment] = []
    header = console.get_style(header_style) + Style.null()
    if show_header:
        _append_row(console, segments, headers, columns, widths, [header] * len(columns))
    styles = [console.get_style(column.style) + Style.null() for column in columns]
    for row in cells:
        _append_row(console, segments, row, columns, widths, styles)
    return segments


def _as_text(console: Console, options: ConsoleOptions, cell: Text | str) -> Text:
    # Rich reads a string cell as markup (and emoji codes), without highlighting.
    if isinstance(cell, Text):
        return cell
    return console.render_str(cell, highlight=False, markup=options.markup)


def _widths(columns: Sequence[Column], rows: Sequence[Sequence[Text]],
            max_width: int) -> list[int]:
    widths = []
    for index, column in enumerate(columns):
        content = max((_text_width(row[index]) for row in rows), default=max_width)
        width = min(content + column.padding, max_width)
        if column.max_width is not None:
            width = min(width, column.max_width + column.padding)
        widths.append(width or 1)
    return widths


def _text_width(text: Text) -> int:
    return cell_len(text.plain)


def _append_row(console: Console, segments: list[Segment], texts: Sequence[Text],
                columns: Sequence[Column], widths: Sequence[int], styles: Sequence[Style]) -> None:
    for text, column, width, style in zip(texts, columns, widths, styles):
        content = width - column.padding
        line = _cell_line(console, text, column, content)
        segments.extend(Segment(part, style + part_style if part_style else style)
                        for part, part_style, _ in line)
        if column.padding:
            segments.append(Segment(" " * column.padding, style))
    segments.append(Segment.line())


def _cell_line(console: Console, text: Text, column: Column, width: int) -> Iterable[Segment]:
    justify = text.justify or column.justify
    if not text.spans and text.no_wrap is not False and justify in ("left", "right") and (
            "\t" not in text.plain):
        line = _plain_line(console, text, justify, width)
        # An empty line renders as no segment at all, whatever its style.
        return [line] if line.text else []
    tab_size = console.tab_size if text.tab_size is None else text.tab_size
    lines = text.wrap(console, width, justify=text.justify or column.justify,
                      overflow=text.overflow or "ellipsis", tab_size=tab_size or 8,
                      no_wrap=True if text.no_wrap is None else text.no_wrap)
    rendered = Text("\n").join(lines).render(console)
    return Segment.adjust_line_length(list(rendered), width)


def _plain_line(console: Console, text: Text, justify: JustifyMethod, width: int) -> Segment:
    """Justify a one-style text to `width` as Text.wrap does, without copying it around."""
    plain = text.plain.rstrip() if justify == "right" else text.plain
    length = cell_len(plain)
    if length > width and (text.overflow or "ellipsis") == "ellipsis":
        plain, length = set_cell_size(plain, width - 1) + "…", width
    elif length > width:
        plain, length = set_cell_size(plain, width), width
    padding = " " * (width - length)
    plain = plain + padding if justify == "left" else padding + plain
    return Segment(plain, console.get_style(text.style) if text.style else None)
