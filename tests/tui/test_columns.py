"""The fast table renderer against Rich's Table, which it must reproduce segment for segment."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from optimstep.tui.panels.table import GAP, FittedTable, merged

WORDS = ["weight", "bias", "m̂", "−0.279064", "0", "", "→", "漢字", "skipped", "lerp(m, g, 1 − β1)",
         "β2·v + (1 − β2)·g²", "layers.0.weight", "a  b", " padded "]
STYLES = ["", "yellow", "bold red", "dim", "italic"]


@st.composite
def texts(draw):
    text = Text(draw(st.sampled_from(WORDS)), style=draw(st.sampled_from(STYLES)))
    if draw(st.booleans()):
        text.append(draw(st.sampled_from(WORDS)), style=draw(st.sampled_from(STYLES)))
    return text


@st.composite
def tables(draw):
    columns = draw(st.integers(1, 4))
    rows = draw(st.integers(0, 4))
    headers = [draw(st.sampled_from(WORDS)) for _ in range(columns)]
    cells = [[draw(texts()) for _ in range(columns)] for _ in range(rows)]
    notes = draw(st.none() | st.just([draw(st.sampled_from(WORDS)) for _ in range(rows)]))
    return cells, headers, notes, draw(st.booleans()), draw(st.integers(8, 90))


def rich_segments(table: FittedTable, cells: list[list[Text]], width: int) -> list:
    console = Console(width=width, color_system="truecolor")
    used = table._table_width(cells)
    return list(merged(console.render(table._table(cells, width - used - GAP))))


def fast_segments(table: FittedTable, cells: list[list[Text]], width: int) -> list:
    console = Console(width=width, color_system="truecolor")
    used = table._table_width(cells)
    return list(merged(table._rendered(console, console.options, cells, width - used - GAP)))


@settings(max_examples=300, deadline=None)
@given(tables())
def test_fast_render_matches_rich(case):
    cells, headers, notes, show_header, width = case
    table = FittedTable(cells, headers, notes, "formula", show_header)

    assert fast_segments(table, cells, width) == rich_segments(table, cells, width)


def test_fitting_table_takes_fast_path():
    cells = [[Text("m"), Text("-0.279064"), Text("0.0377618")]]
    table = FittedTable(cells, ["", "weight", "bias"], ["lerp(m, g, 1 − β1)"], "formula")
    console = Console(width=60)

    assert render_rows_used(table, console, cells)


def render_rows_used(table: FittedTable, console: Console, cells: list[list[Text]]) -> bool:
    segments = table._rendered(console, console.options, cells, 60 - table._table_width(cells))
    return isinstance(segments, list)
