"""Pilot and unit tests of the app's exports: trace file, screenshot, copied values."""

from __future__ import annotations

import ast
import os
from datetime import datetime

import pytest
import torch
from rewind_helpers import SIZE, fill, notifications, press, widget_text
from textual.widgets import Input

from optimstep.core import Scenario, Stepper
from optimstep.core.replay import TraceSource
from optimstep.core.trace import read_trace, record_to_dict
from optimstep.tui import export_actions
from optimstep.tui.app import OptimstepApp
from optimstep.tui.dialogs import ConfirmScreen
from optimstep.tui.export_actions import (ExportScreen, default_trace_path, record_text,
                                          write_trace)


def as_json(records) -> list[dict]:
    return [record_to_dict(record) for record in records]


async def export(pilot, path) -> None:
    """Press `o`, enter `path` and submit."""
    await press(pilot, "o")
    await fill(pilot, "#export-path", str(path))


async def test_export_reads_back_as_records(app, stepper, tmp_path):
    path = tmp_path / "run.jsonl"
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "n")
        await export(pilot, path)
        trace = read_trace(path)
        assert as_json(trace.records) == as_json(stepper.records)
        assert not isinstance(app.screen, ExportScreen)


async def test_export_keeps_panels(app, stepper, tmp_path):
    path = tmp_path / "run.jsonl"
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        await export(pilot, path)
        assert read_trace(path).panels == stepper.rule.panels


async def test_export_notifies_path(app, tmp_path):
    path = tmp_path / "run.jsonl"
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n")
        await export(pilot, path)
        assert f"wrote 2 steps to {path}" in notifications(app)


async def test_export_writes_up_to_current_step(app, stepper, tmp_path):
    path = tmp_path / "run.jsonl"
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f", "b", "b")
        await export(pilot, path)
        assert [record.step for record in read_trace(path).records] == list(range(1, 9))


async def test_export_replays_dropped_records(tmp_path):
    path = tmp_path / "run.jsonl"
    small = Stepper.from_scenario(Scenario(), history_mib=0.1)
    reference = Stepper.from_scenario(Scenario()).run(30)
    app = OptimstepApp(small)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f", "f", "f")
        assert small.history.record(1) is None
        await export(pilot, path)
        assert as_json(read_trace(path).records) == as_json(reference)


async def test_export_of_replayed_trace(tmp_path):
    path = tmp_path / "again.jsonl"
    records = Stepper.from_scenario(Scenario()).run(4)
    app = OptimstepApp(TraceSource(records, "run.jsonl"))
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "dollar_sign", "b")
        await export(pilot, path)
        assert as_json(read_trace(path).records) == as_json(records[:3])


async def test_export_default_path_prefilled(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "o")
        value = app.screen.query_one("#export-path", Input).value
        assert value.startswith("optimstep-trace-")
        assert value.endswith(".jsonl")


async def test_export_at_step_0_notifies(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "o")
        assert not isinstance(app.screen, ExportScreen)
        assert "nothing to export yet: take a step first" in notifications(app)


async def test_existing_file_asks_before_replacing(app, tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text("keep me\n")
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        await export(pilot, path)
        assert isinstance(app.screen, ConfirmScreen)
        assert path.read_text() == "keep me\n"


async def test_existing_file_kept_on_no(app, tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text("keep me\n")
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        await export(pilot, path)
        await press(pilot, "n")
        assert isinstance(app.screen, ExportScreen)
        assert path.read_text() == "keep me\n"
        assert widget_text(app.screen.query_one(".form-error")) == (
            "kept the existing file: enter another name")


async def test_existing_file_replaced_on_yes(app, stepper, tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text("keep me\n")
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        await export(pilot, path)
        await press(pilot, "y")
        assert as_json(read_trace(path).records) == as_json(stepper.records)


async def test_missing_folder_shows_error_in_form(app, tmp_path):
    path = tmp_path / "missing" / "run.jsonl"
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        await export(pilot, path)
        assert isinstance(app.screen, ExportScreen)
        error = widget_text(app.screen.query_one(".form-error"))
        assert error.startswith("cannot write this path: folder /")
        assert not path.parent.exists()


async def test_unwritable_path_notifies_and_app_continues(app, stepper):
    # /proc rejects new files, even for root.
    path = "/proc/optimstep-export-test.jsonl"
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        await export(pilot, path)
        assert any(text.startswith(f"export failed, nothing written: cannot write {path}: ")
                   for text in notifications(app))
        assert not os.path.exists(path)
        await press(pilot, "n")
        assert app.is_running
        assert stepper.step_count == 2


async def test_export_form_escape_writes_nothing(app, tmp_path):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "o", "escape")
        assert not isinstance(app.screen, ExportScreen)
        assert list(tmp_path.iterdir()) == []


async def test_screenshot_saved_and_named(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "S")
        files = list(tmp_path.glob("*.svg"))
        assert len(files) == 1
        assert f"saved a screenshot to {files[0]}" in notifications(app)


async def test_copy_puts_step_values_on_clipboard(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "c")
        text = app.clipboard
        assert text.startswith("step 2  loss ")
        weight = stepper.records[-1].param("weight")
        after = next(line for line in text.splitlines() if line.startswith("  after: "))
        copied = torch.tensor(ast.literal_eval(after.removeprefix("  after: ")),
                              dtype=weight.after.dtype)
        assert torch.equal(copied, weight.after)
        assert "copied step 2's values (2 parameters) to the clipboard" in notifications(app)


async def test_copy_at_step_0_gives_initial_values(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "c")
        assert app.clipboard.splitlines()[1:] == ["weight: [[-0.5]]", "bias: [1.0]"]


# Unit tests of the helpers.


def test_write_trace_reports_progress(tmp_path, monkeypatch):
    monkeypatch.setattr(export_actions, "PROGRESS_SECONDS", 0)
    records = Stepper.from_scenario(Scenario()).run(3)
    calls = []
    write_trace(records, 3, str(tmp_path / "run.jsonl"),
                progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_write_trace_leaves_no_file_on_error(tmp_path):
    def failing():
        yield from Stepper.from_scenario(Scenario()).run(2)
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_trace(failing(), 3, str(tmp_path / "run.jsonl"))
    assert list(tmp_path.iterdir()) == []


def test_default_trace_path_has_timestamp():
    assert default_trace_path(datetime(2025, 1, 2, 3, 4, 5)) == (
        "optimstep-trace-20250102-030405.jsonl")


def test_record_text_names_every_part():
    record = Stepper.from_scenario(Scenario()).run(1)[0]
    lines = record_text(record, None).splitlines()
    assert lines[0] == f"step 1  loss {record.loss!r}  reference: torch"
    assert "weight (group 0, torch.float32):" in lines
    for part in ("before", "grad", "after", "step", "exp_avg", "exp_avg_sq",
                 "computed update", "actual update"):
        assert any(line.startswith(f"  {part}: ") for line in lines), part
    assert lines[-1] == f"checks: {len(record.checks)} passed, 0 failed"


def test_record_text_summarises_large_tensors():
    model = torch.nn.Linear(100, 1)
    optimizer = torch.optim.Adam(model.parameters())
    batches = [(torch.ones(2, 100), torch.ones(2, 1))]
    record = Stepper(model, optimizer, torch.nn.MSELoss(), batches).step()
    line = next(line for line in record_text(record, None).splitlines()
                if line.startswith("  before: "))
    assert line.startswith("  before: shape [1, 100], norm ")
