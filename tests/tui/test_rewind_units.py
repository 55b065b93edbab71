"""Unit tests of the parts behind rewind and edits: step and value parsing, text, the log."""

from __future__ import annotations

import ast
import dataclasses

import pytest
import torch
from rich.segment import Segment
from textual.strip import Strip

from optimstep.core import Scenario, Stepper
from optimstep.core.history import HyperparameterEdit
from optimstep.tui.app import OptimstepApp
from optimstep.tui.edit import group_label, parse_value
from optimstep.tui.goto import parse_step
from optimstep.tui.panels import AssertionLog
from optimstep.tui.panels.lines import changed_cells
from optimstep.tui.position import Position, describe_history, format_bytes, read_position
from optimstep.tui.rewind import edit_text
from optimstep.tui.values import format_tensor_values, format_value


@pytest.mark.parametrize("text, current, step", [
    ("12", 3, 12), (" 7 ", 3, 7), ("0", 3, 0), ("+3", 4, 7), ("-3", 4, 1), ("-4", 4, 0),
    ("+0", 4, 4), ("007", 0, 7),
])
def test_parse_step_accepts(text, current, step):
    assert parse_step(text, current) == step


@pytest.mark.parametrize("text, current, last, message", [
    ("abc", 3, None, "invalid step: 'abc' (expected a number such as 12, +3 or -3)"),
    ("", 3, None, "invalid step: '' (expected a number such as 12, +3 or -3)"),
    ("1.5", 3, None, "invalid step: '1.5' (expected a number such as 12, +3 or -3)"),
    ("-5", 3, None, "invalid step: -5 (goes to step -2; step 0 is the first)"),
    ("6", 0, 5, "invalid step: 6 (goes to step 6; the trace ends at step 5)"),
    ("+3", 4, 5, "invalid step: +3 (goes to step 7; the trace ends at step 5)"),
])
def test_parse_step_rejects(text, current, last, message):
    with pytest.raises(ValueError) as error:
        parse_step(text, current, last)
    assert str(error.value) == message


def test_parse_step_allows_last_step():
    assert parse_step("5", 0, 5) == 5


@pytest.mark.parametrize("text, old, value", [
    ("0.01", 0.1, 0.01), ("1e-3", 0.1, 0.001), ("3", 0.1, 3),
    ("0.8, 0.9", (0.9, 0.99), (0.8, 0.9)),
    ("(0.8, 0.9)", (0.9, 0.99), (0.8, 0.9)), ("true", False, True), ("No", True, False),
    ("1", False, True),
])
def test_parse_value_reads(text, old, value):
    assert parse_value("key", text, old) == value


def test_parse_value_reads_nan_as_float():
    assert parse_value("lr", "nan", 0.1) != parse_value("lr", "nan", 0.1)


@pytest.mark.parametrize("text, old, message", [
    ("abc", 0.1, "invalid lr: 'abc' (expected a value like the current 0.1)"),
    ("maybe", False, "invalid lr: 'maybe' (expected True or False)"),
    ("0.9 0.99", (0.9, 0.99), "invalid lr: '0.9 0.99' (expected a value like the current "
                              "(0.9, 0.99))"),
])
def test_parse_value_rejects(text, old, message):
    with pytest.raises(ValueError) as error:
        parse_value("lr", text, old)
    assert str(error.value) == message


@pytest.mark.parametrize("value, text", [
    (0.1, "0.1"), (1e-08, "1e-08"), ((0.9, 0.99), "(0.9, 0.99)"), (False, "False"),
    (torch.tensor(0.1), "0.1"), (torch.tensor(0.1, dtype=torch.float64), "0.1"),
    (torch.tensor(3), "3"), ((0.5,), "(0.5,)"),
])
def test_format_value(value, text):
    assert format_value(value) == text


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_format_tensor_values_read_back(dtype):
    tensor = torch.tensor([[0.1, -2.5e-5], [3.14159, 1e4]], dtype=dtype)
    text = format_tensor_values(tensor)
    assert torch.equal(torch.tensor(ast.literal_eval(text), dtype=dtype), tensor)


def test_group_label_shortens_long_groups():
    assert group_label(1, ["a", "b", "c", "d"]) == "group 1: a, b, c, …"


@pytest.mark.parametrize("count, text", [
    (0, "0 B"), (1023, "1023 B"), (1024, "1 KiB"), (30822, "30.1 KiB"),
    (256 * 2**20, "256 MiB"), (3 * 2**40, "3 TiB"),
])
def test_format_bytes(count, text):
    assert format_bytes(count) == text


def test_describe_history():
    assert describe_history(Position(3, 3, 30822, 256 * 2**20)) == "history 30.1 KiB/256 MiB"


def test_describe_history_without_budget():
    assert describe_history(Position(3)) == ""


def test_read_position_of_stepper():
    stepper = Stepper.from_scenario(Scenario())
    stepper.run(3)
    stepper.back(1)
    position = read_position(stepper)
    assert (position.step, position.last) == (2, 3)
    assert position.history_bytes == stepper.history_bytes
    assert position.hyperparameters[0]["lr"] == 0.1


def test_edit_text():
    edit = HyperparameterEdit(5, 0, "lr", 0.1, 0.01)
    assert edit_text(edit) == "group 0 lr 0.1 -> 0.01 from step 6"


def test_changed_cells_of_shorter_line_cover_old_text():
    new, old = Strip([Segment("history 9 KiB")]), Strip([Segment("history 10 KiB")])
    assert changed_cells(new, old) == (0, 14)


# The log's batch summary.


def failing_records(count: int):
    """Return `count` records of the default scenario whose step 2 has one failed check."""
    records = Stepper.from_scenario(Scenario()).run(count)
    checks = records[1].checks
    broken = dataclasses.replace(checks[0], passed=False)
    records[1] = dataclasses.replace(records[1], checks=(broken, *checks[1:]))
    return records


async def test_show_batch_writes_summary_and_failures():
    records = failing_records(4)
    app = OptimstepApp(Stepper.from_scenario(Scenario()))
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(AssertionLog)
        log.show_batch(records)
        await pilot.pause()
        lines = [strip.text.rstrip() for strip in log.lines][-2:]
        assert lines[0].split()[:4] == ["4", "FAIL", "steps", "1-4:"]
        assert "1 of 4 steps failed (2), 1 of 64 checks" in lines[0]
        assert lines[1].split()[:3] == ["2", "FAIL", records[1].checks[0].name]


async def test_show_batch_all_passed():
    records = Stepper.from_scenario(Scenario()).run(3)
    app = OptimstepApp(Stepper.from_scenario(Scenario()))
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(AssertionLog)
        log.show_batch(records)
        await pilot.pause()
        last = [strip.text.rstrip() for strip in log.lines][-1]
        assert last.split() == ["3", "PASS", "steps", "1-3:", "all", "48", "checks", "passed"]
