"""Tests of the panels' building blocks: number and tensor text, fitted tables, line diffs."""

from __future__ import annotations

import re

import torch
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from optimstep.tui.panels.format import format_error, format_number, format_tensor
from optimstep.tui.panels.header import FactLines
from optimstep.tui.panels.lines import changed_cells
from optimstep.tui.panels.table import FittedTable


def rendered(table: FittedTable | FactLines, width: int) -> list[str]:
    console = Console(width=width, color_system=None, legacy_windows=False)
    with console.capture() as capture:
        console.print(table)
    return capture.get().splitlines()


def test_number_keeps_six_digits():
    assert format_number(-0.20379) == "-0.203790"


def test_number_small_uses_exponent():
    assert format_number(1e-8) == "1.00000e-08"


def test_number_nonfinite_reads_as_word():
    assert [format_number(x) for x in (float("nan"), float("inf"), float("-inf"))] == \
        ["nan", "inf", "-inf"]


def test_error_zero_reads_as_0():
    assert format_error(0.0) == "0"


def test_tensor_one_element_is_plain_number():
    assert format_tensor(torch.tensor([[0.5]])) == "0.500000"


def test_tensor_short_is_listed_whole():
    assert format_tensor(torch.tensor([1.0, 2.0])) == "[1.00000, 2.00000]"


def test_tensor_long_counts_the_rest():
    assert format_tensor(torch.arange(1000.0), limit=2) == "[0, 1.00000, … (998 more)]"


def test_tensor_complex_shows_both_parts():
    assert format_tensor(torch.tensor([1 - 2j])) == "1.00000-2.00000j"


def test_table_fits_wide_formula_cut():
    table = FittedTable([["m", torch.tensor(1.0)]], ["", "weight"], ["a long formula " * 4])
    lines = rendered(table, 30)
    assert max(len(line) for line in lines) <= 30
    assert lines[1].endswith("…")


def test_table_drops_formula_when_narrow():
    table = FittedTable([["m", torch.tensor(1.0)]], ["", "weight"], ["β2·v + (1 − β2)·g²"])
    assert "β2" not in "\n".join(rendered(table, 20))


def test_table_stacks_large_tensors():
    table = FittedTable([["weight", torch.zeros(500), "→", torch.ones(500)]],
                        ["", "before", "", "after"], show_header=False)
    lines = rendered(table, 30)
    assert lines[0] == "weight"
    assert re.match(r"\s+before\s+\[0, .*\(\d+ more\)\]", lines[1])
    assert max(len(line) for line in lines) <= 30


def test_table_one_space_apart_before_stacking():
    table = FittedTable([["weight", "-0.0220345", "-0.0220345", "0", "0"]],
                        ["", "computed", "actual", "abs", "ulp"])
    assert rendered(table, 38) == ["         computed     actual abs ulp",
                                   "weight -0.0220345 -0.0220345   0   0"]


def test_fact_lines_pad_to_widths():
    facts = FactLines([Text("step 9"), Text("loss 0.5"), Text("history")], [7, 14, 7])
    lines = [line.rstrip() for line in rendered(facts, 80)]
    assert lines == ["step 9   loss 0.5        history"]


def test_fact_lines_wrap_by_widths():
    facts = FactLines([Text("step 9"), Text("loss 0.5")], [7, 30])
    assert [line.rstrip() for line in rendered(facts, 30)] == ["step 9", "loss 0.5"]


def test_changed_cells_of_equal_lines():
    line = Strip([Segment("weight  -0.5")])
    assert changed_cells(line, line) == (0, 0)


def test_changed_cells_span_the_difference():
    old = Strip([Segment("weight  -0.500  →  -0.400")])
    new = Strip([Segment("weight  -0.400  →  -0.300")])
    assert changed_cells(new, old) == (11, 23)


def test_changed_cells_see_style_change():
    old = Strip([Segment("PASS"), Segment(" x")])
    new = Strip([Segment("PASS", Style(bold=True)), Segment(" x")])
    assert changed_cells(new, old) == (0, 4)
