"""Pilot tests of going back, jumping, live edits and quitting on the default scenario."""

from __future__ import annotations

import pytest
import torch
from rewind_helpers import (SIZE, fill, go_to, header, log_lines, notifications, press,
                            same_record, step_shown, widget_text)
from textual.widgets import Input

from optimstep.core import Scenario, Stepper
from optimstep.core.replay import TraceSource
from optimstep.tui.app import OptimstepApp
from optimstep.tui.dialogs import QuitScreen
from optimstep.tui.edit import EditScreen
from optimstep.tui.goto import GotoScreen
from optimstep.tui.panels import ParametersPanel
from optimstep.tui.panels.format import format_number


def parameter_row(app: OptimstepApp, name: str) -> str:
    text = widget_text(app.query_one(ParametersPanel))
    return next(line for line in text.splitlines() if line.split()[:1] == [name])


async def test_back_and_forward_repeat_records(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f")
        first = list(stepper.records)
        await press(pilot, *["b"] * 4)
        assert stepper.step_count == 6
        await press(pilot, *["n"] * 4)
        again = list(stepper.records)
        assert len(again) == 10
        for before, after in zip(first, again):
            assert same_record(before, after), before.step


async def test_back_shows_previous_step(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "n", "b")
        assert step_shown(app) == 2
        weight = stepper.records[-1].param("weight")
        assert format_number(weight.after.item()) in parameter_row(app, "weight")


async def test_left_arrow_goes_back(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "left")
        assert stepper.step_count == 1
        assert step_shown(app) == 1


async def test_back_logs_the_move(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "n", "b")
        assert log_lines(app)[-1].split() == ["2", "BACK", "from", "step", "3", "to", "step",
                                              "2"]


async def test_back_at_step_0_stays(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "b")
        assert stepper.step_count == 0
        assert step_shown(app) == 0
        assert "already at step 0, before the first step" in notifications(app)


async def test_header_shows_latest_after_back(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f", "b", "b")
        assert "step 8 of 10" in header(app)


async def test_header_shows_history_memory(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        assert "history " in header(app)
        assert "/256 MiB" in header(app)


async def test_goto_50_then_7_shows_step_7(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await go_to(pilot, "50")
        assert stepper.step_count == 50
        await go_to(pilot, "7")
        assert step_shown(app) == 7
        record = stepper.records[6]
        assert record.step == 7
        weight = parameter_row(app, "weight")
        assert format_number(record.param("weight").before.item()) in weight
        assert format_number(record.param("weight").after.item()) in weight
        bias = parameter_row(app, "bias")
        assert format_number(record.param("bias").after.item()) in bias


async def test_goto_relative_forward(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n")
        await go_to(pilot, "+3")
        assert stepper.step_count == 5
        assert step_shown(app) == 5


async def test_goto_relative_back(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f")
        await go_to(pilot, "-4")
        assert stepper.step_count == 6
        assert step_shown(app) == 6


@pytest.mark.parametrize("text, words", [
    ("abc", "invalid step: 'abc'"),
    ("-5", "invalid step: -5 (goes to step -3; step 0 is the first)"),
    ("2.5", "invalid step: '2.5'"),
])
async def test_goto_bad_input_keeps_form_open(app, stepper, text, words):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n")
        await go_to(pilot, text)
        assert isinstance(app.screen, GotoScreen)
        error = widget_text(app.screen.query_one(".form-error"))
        assert error.startswith(words)
        assert len(error.splitlines()) == 1
        assert stepper.step_count == 2


async def test_goto_form_escape_cancels(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "g", "5", "escape")
        assert not isinstance(app.screen, GotoScreen)
        assert stepper.step_count == 1


async def test_goto_form_cancel_button(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "g", "5")
        await pilot.click("#form-cancel")
        await press(pilot)
        assert not isinstance(app.screen, GotoScreen)
        assert stepper.step_count == 1


@pytest.mark.parametrize("keys", [("0",), ("home",)])
async def test_first_step_keys_go_to_0(app, stepper, keys):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f", *keys)
        assert stepper.step_count == 0
        assert stepper.latest_step == 10
        assert step_shown(app) == 0


@pytest.mark.parametrize("keys", [("dollar_sign",), ("end",)])
async def test_latest_step_keys(app, stepper, keys):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f", "0", *keys)
        assert stepper.step_count == 10
        assert step_shown(app) == 10


async def test_goto_past_latest_steps_on(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "n", "b")
        await go_to(pilot, "12")
        assert stepper.step_count == 12
        assert step_shown(app) == 12


def trace_app(steps: int = 5) -> tuple[OptimstepApp, TraceSource]:
    source = TraceSource(Stepper.from_scenario(Scenario()).run(steps), "run.jsonl")
    return OptimstepApp(source), source


async def test_trace_goes_back():
    app, source = trace_app()
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "n", "b")
        assert source.step_count == 2
        assert step_shown(app) == 2


async def test_trace_goto_past_end_keeps_form_open():
    app, source = trace_app()
    async with app.run_test(size=SIZE) as pilot:
        await go_to(pilot, "6")
        assert isinstance(app.screen, GotoScreen)
        error = widget_text(app.screen.query_one(".form-error"))
        assert error == "invalid step: 6 (goes to step 6; the trace ends at step 5)"
        assert source.step_count == 0


async def test_trace_end_key_goes_to_last_step():
    app, source = trace_app()
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "dollar_sign")
        assert source.step_count == 5
        assert step_shown(app) == 5


async def test_trace_edit_shows_notice():
    app, _ = trace_app()
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "e")
        assert not isinstance(app.screen, EditScreen)
        assert any("cannot change hyper-parameters" in text for text in notifications(app))


async def test_source_without_back_shows_notice(trace):
    app = OptimstepApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "b")
        assert trace.step_count == 2
        assert any("cannot go back" in text for text in notifications(app))


# Live edits.


async def edit_lr(pilot, value: str) -> None:
    await press(pilot, "e")
    await fill(pilot, "#edit-lr", value)


async def test_edit_form_prefills_current_values(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "e")
        assert isinstance(app.screen, EditScreen)
        assert app.screen.query_one("#edit-lr", Input).value == "0.1"
        assert app.screen.query_one("#edit-betas", Input).value == "(0.9, 0.99)"
        assert app.screen.query_one("#edit-eps", Input).value == "1e-08"


async def test_edit_lr_logs_the_change(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, *["n"] * 5)
        await edit_lr(pilot, "0.01")
        assert not isinstance(app.screen, EditScreen)
        assert log_lines(app)[-1].split() == ["5", "EDIT", "group", "0", "lr", "0.1", "->",
                                              "0.01", "from", "step", "6"]


async def test_edit_lr_shows_in_header(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, *["n"] * 5)
        await edit_lr(pilot, "0.01")
        assert "Adam lr=0.01 " in header(app)


async def test_edit_at_step_0_kept_after_back(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await edit_lr(pilot, "0.01")
        await press(pilot, "n", "b")
        assert stepper.records == []
        assert "Adam lr=0.01 " in header(app)
        await press(pilot, "n")
        assert stepper.records[0].hyperparameters[0]["lr"] == 0.01


async def test_reset_clears_edit(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n")
        await edit_lr(pilot, "0.01")
        await press(pilot, "r")
        assert stepper.edits == ()
        assert "Adam lr=0.1 " in header(app)


async def test_edit_lr_changes_later_updates(app, stepper):
    plain = Stepper.from_scenario(Scenario())
    plain.run(6)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, *["n"] * 5)
        await edit_lr(pilot, "0.01")
        await press(pilot, "n")
        edited = stepper.records[5]
        assert edited.hyperparameters[0]["lr"] == 0.01
        assert same_record(stepper.records[4], plain.records[4])
        assert not same_record(edited, plain.records[5])
        assert edited.passed


async def test_back_before_edit_restores_lr(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, *["n"] * 5)
        await edit_lr(pilot, "0.01")
        await press(pilot, "n", "n")
        await go_to(pilot, "4")
        assert stepper.optimizer.param_groups[0]["lr"] == 0.1
        assert "Adam lr=0.1 " in header(app)


async def test_back_before_edit_replays_old_updates(app, stepper):
    plain = Stepper.from_scenario(Scenario())
    plain.run(5)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, *["n"] * 5)
        await edit_lr(pilot, "0.01")
        await press(pilot, "n", "b", "b", "b")
        assert same_record(stepper.records[-1], plain.records[2])


@pytest.mark.parametrize("value, words", [
    ("-1", "invalid lr: -1 (expected a finite number >= 0)"),
    ("abc", "invalid lr: 'abc' (expected a value like the current 0.1)"),
])
async def test_edit_invalid_value_keeps_form_open(app, stepper, value, words):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        await edit_lr(pilot, value)
        assert isinstance(app.screen, EditScreen)
        error = widget_text(app.screen.query_one(".form-error"))
        assert error == words
        assert stepper.optimizer.param_groups[0]["lr"] == 0.1


async def test_edit_after_rejection_applies(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        await edit_lr(pilot, "-1")
        await fill(pilot, "#edit-lr", "0.05")
        assert not isinstance(app.screen, EditScreen)
        assert stepper.optimizer.param_groups[0]["lr"] == 0.05


async def test_edit_betas_pair(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "e")
        await fill(pilot, "#edit-betas", "0.8, 0.95")
        assert stepper.optimizer.param_groups[0]["betas"] == (0.8, 0.95)


async def test_edit_escape_applies_nothing(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "e")
        app.screen.query_one("#edit-lr", Input).value = "0.5"
        await press(pilot, "escape")
        assert not isinstance(app.screen, EditScreen)
        assert stepper.optimizer.param_groups[0]["lr"] == 0.1
        assert stepper.edits == ()


async def test_edit_before_latest_discards_later_steps(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f", "b", "b", "b")
        await edit_lr(pilot, "0.01")
        assert stepper.latest_step == 7
        assert "discarded steps 8-10" in log_lines(app)[-1]


def two_group_stepper() -> Stepper:
    built = Scenario().build()
    weight, bias = built.model.weight, built.model.bias
    optimizer = torch.optim.Adam([{"params": [weight]}, {"params": [bias], "lr": 0.2}],
                                 lr=0.1)
    return Stepper(built.model, optimizer, built.loss_fn, built.batches)


async def test_edit_second_group(stepper):
    source = two_group_stepper()
    app = OptimstepApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "e")
        app.screen.query_one("#edit-group").value = 1
        await press(pilot)
        assert app.screen.query_one("#edit-lr", Input).value == "0.2"
        await fill(pilot, "#edit-lr", "0.3")
        assert source.optimizer.param_groups[1]["lr"] == 0.3
        assert source.optimizer.param_groups[0]["lr"] == 0.1


# Quitting and Escape.


async def test_quit_with_history_asks(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "q")
        assert isinstance(app.screen, QuitScreen)
        assert app.is_running


async def test_quit_twice_quits(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "q", "q")
        assert app.return_value == 0


async def test_quit_confirm_with_y(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "q", "y")
        assert app.return_value == 0


@pytest.mark.parametrize("key", ["n", "escape"])
async def test_quit_declined_stays(app, stepper, key):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "q", key)
        assert not isinstance(app.screen, QuitScreen)
        assert app.is_running
        assert stepper.step_count == 1


async def test_quit_stay_button(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "q")
        await pilot.click("#confirm-no")
        await press(pilot)
        assert not isinstance(app.screen, QuitScreen)
        assert app.is_running


async def test_escape_on_main_screen_keeps_everything(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n")
        lines = log_lines(app)
        await press(pilot, "escape", "escape")
        assert app.is_running
        assert app.screen is app.screen_stack[0]
        assert stepper.step_count == 2
        assert log_lines(app) == lines
