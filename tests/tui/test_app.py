"""Pilot tests of the app on the default scenario: steps, reset, help, quit, panels, log."""

from __future__ import annotations

import re

import pytest
import torch
from textual.binding import Binding
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget

from optimstep.core import Scenario, Stepper
from optimstep.core.rules.adam import Adam
from optimstep.tui.app import OptimstepApp
from optimstep.tui.help import HelpScreen
from optimstep.tui.panels import (HINT, OTHER_TITLE, AssertionLog, GradientsPanel,
                                  ParametersPanel, StatusHeader, TermsPanel, UpdatesPanel)

SIZE = (80, 24)


async def press(pilot: Pilot, *keys: str) -> None:
    """Press `keys`, then wait until every step worker is done and its message handled."""
    await pilot.press(*keys)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def widget_text(widget: Widget) -> str:
    """Return the text a widget shows, border included, one line per row."""
    width, height = widget.outer_size
    strips = widget.render_lines(Region(0, 0, width, height))
    return "\n".join(strip.text.rstrip() for strip in strips)


def log_lines(app: OptimstepApp) -> list[str]:
    return [strip.text.rstrip() for strip in app.query_one(AssertionLog).lines]


def row_numbers(text: str, label: str) -> list[float]:
    """Return the numbers on the first line of `text` whose first word is `label`."""
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == label:
            return [float(word) for word in words[1:] if _is_number(word)]
    raise AssertionError(f"no row {label!r} in:\n{text}")


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def header(app: OptimstepApp) -> str:
    return widget_text(app.query_one(StatusHeader))


def step_shown(app: OptimstepApp) -> int:
    return int(re.search(r"\bstep (\d+)\b", header(app)).group(1))


def terms_panel(app: OptimstepApp, title: str) -> TermsPanel:
    return next(panel for panel in app.query(TermsPanel) if panel.border_title == title)


async def test_three_steps_show_step_3(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "n")
        assert step_shown(app) == 3


async def test_three_steps_show_weight_after(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "n")
        before, after = row_numbers(widget_text(app.query_one(ParametersPanel)), "weight")
        assert round(after, 4) == -0.2038


async def test_three_steps_show_bias_after(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "n")
        before, after = row_numbers(widget_text(app.query_one(ParametersPanel)), "bias")
        assert round(after, 4) == 1.2953


async def test_three_steps_show_loss(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "n")
        loss = float(re.search(r"\bloss (\S+)", header(app)).group(1))
        assert round(loss, 4) == 0.9894


async def test_log_has_pass_line_per_check(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "n")
        passed = [line for line in log_lines(app) if re.match(r"\s*3\s+PASS\s", line)]
        assert len(passed) == len(stepper.records[-1].checks)


async def test_log_line_names_check_mode_and_errors(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        check = stepper.records[-1].checks[0]
        line = next(line for line in log_lines(app) if re.match(r"\s*1\s+PASS\s", line))
        assert line.split()[2:5] == [check.name, check.mode, "abs"]
        assert " rel " in line
        assert " ulp " in line


async def test_log_has_no_fail_on_default_scenario(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f")
        assert not [line for line in log_lines(app) if " FAIL " in line]


@pytest.mark.parametrize("key", ["space", "right"])
async def test_other_step_keys_take_one_step(app, key):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, key)
        assert step_shown(app) == 1


async def test_f_takes_ten_steps(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f")
        assert step_shown(app) == 10
        assert stepper.step_count == 10


async def test_keys_run_in_order_pressed(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "r", "n")
        assert stepper.step_count == 1
        assert step_shown(app) == 1


async def test_reset_returns_to_step_0(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "n", "r")
        assert step_shown(app) == 0
        assert stepper.step_count == 0


async def test_reset_shows_initial_parameters(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "r")
        text = widget_text(app.query_one(ParametersPanel))
        assert "initial" in text
        assert row_numbers(text, "weight") == [-0.5]


async def test_reset_clears_log_to_hint(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "r")
        lines = log_lines(app)
        assert len(lines) == 1
        assert HINT in lines[0]


async def test_start_shows_initial_values(app):
    async with app.run_test(size=SIZE):
        text = widget_text(app.query_one(ParametersPanel))
        assert row_numbers(text, "weight") == [-0.5]
        assert row_numbers(text, "bias") == [1.0]


async def test_start_panels_show_hint(app):
    async with app.run_test(size=SIZE):
        for panel in (app.query_one(GradientsPanel), app.query_one(UpdatesPanel)):
            assert HINT in widget_text(panel)


async def test_header_shows_optimizer_and_reference(app):
    async with app.run_test(size=SIZE):
        text = " ".join(header(app).split())
        assert "Adam lr=0.1 betas=(0.9, 0.99) eps=1e-08" in text
        assert "reference: torch order" in text
        assert "scenario: linear" in text


async def test_header_shows_textbook_reference():
    app = OptimstepApp(Stepper.from_scenario(Scenario(reference="textbook")))
    async with app.run_test(size=SIZE):
        assert "reference: textbook" in header(app)


async def test_term_panels_follow_rule_panels(app, stepper):
    async with app.run_test(size=SIZE):
        titles = [panel.border_title for panel in app.query(TermsPanel)]
        assert titles == [title for title, _ in stepper.rule.panels] + [OTHER_TITLE]


async def test_term_rows_show_symbol_value_formula(app, stepper):
    async with app.run_test(size=(160, 48)) as pilot:
        await press(pilot, "n")
        title, names = stepper.rule.panels[0]
        term = stepper.records[-1].params[0].term(names[0])
        text = widget_text(terms_panel(app, title))
        row = next(line for line in text.splitlines() if line.split()[:1] == [term.symbol])
        assert term.formula in row
        assert round(row_numbers(text, term.symbol)[0], 4) == round(term.value.item(), 4)


async def test_unclaimed_terms_go_under_other_terms():
    class Unsorted(Adam):
        panels = ()

    built = Scenario().build()
    source = Stepper(built.model, built.optimizer, built.loss_fn, built.batches,
                     rule=Unsorted())
    app = OptimstepApp(source)
    async with app.run_test(size=(160, 48)) as pilot:
        await press(pilot, "n")
        text = widget_text(terms_panel(app, OTHER_TITLE))
        symbols = [term.symbol for term in source.records[-1].params[0].terms]
        assert [line.split()[0] for line in text.splitlines()[2:]] == symbols


async def test_computed_vs_actual_shows_zero_ulp(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "n")
        computed, actual, abs_error, ulp = row_numbers(widget_text(app.query_one(UpdatesPanel)),
                                                       "weight")
        assert computed == actual
        assert abs_error == 0
        assert ulp == 0


async def test_help_lists_every_binding(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = widget_text(app.screen.query_one("#help-keys"))
        for binding in OptimstepApp.BINDINGS:
            assert binding.description in text
            for key in binding.key.split(","):
                assert app.get_key_display(Binding(key, binding.action)) in text


@pytest.mark.parametrize("key", ["question_mark", "q", "escape"])
async def test_help_closes(app, key):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "question_mark", key)
        assert not isinstance(app.screen, HelpScreen)
        assert app.is_running


async def test_help_blocks_step_keys(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "question_mark", "n")
        assert stepper.step_count == 0


async def test_quit_returns_0(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert app.return_value == 0


def test_bindings_have_description_and_id():
    for binding in OptimstepApp.BINDINGS:
        assert binding.description, binding.key
        assert binding.id, binding.key


async def test_error_in_step_is_logged():
    def broken_loss(output, target):
        raise ValueError("targets have the wrong shape")

    built = Scenario().build()
    app = OptimstepApp(Stepper(built.model, built.optimizer, broken_loss, built.batches))
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        assert "ERROR    ValueError: targets have the wrong shape" in log_lines(app)[-1]


async def test_error_in_step_keeps_app_usable():
    def broken_loss(output, target):
        raise ValueError("targets have the wrong shape")

    built = Scenario().build()
    app = OptimstepApp(Stepper(built.model, built.optimizer, broken_loss, built.batches))
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "question_mark")
        assert len([line for line in log_lines(app) if "ERROR" in line]) == 2
        assert isinstance(app.screen, HelpScreen)


async def test_end_of_trace_notifies(trace):
    app = OptimstepApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f")
        assert step_shown(app) == 3
        assert any("end of trace" in n.message for n in app._notifications)


async def test_trace_steps_after_end(trace):
    app = OptimstepApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f", "r", "n")
        assert step_shown(app) == 1


async def test_trace_shows_initial_values_after_reset(trace):
    app = OptimstepApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "r")
        assert row_numbers(widget_text(app.query_one(ParametersPanel)), "weight") == [-0.5]


def stepper_with_unused_parameter() -> Stepper:
    model = torch.nn.Linear(1, 1)
    model.unused = torch.nn.Parameter(torch.zeros(2))
    built = Scenario().build()
    model.load_state_dict(built.model.state_dict(), strict=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1, betas=(0.9, 0.99), eps=1e-8)
    return Stepper(model, optimizer, built.loss_fn, built.batches)


async def test_skipped_parameter_logged_as_skipped():
    app = OptimstepApp(stepper_with_unused_parameter())
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        lines = log_lines(app)
        assert any(re.match(r"\s*1\s+skipped\s+unused\b", line) for line in lines)
        assert not [line for line in lines if " FAIL " in line]


async def test_skipped_parameter_gradient_shown_as_skipped():
    app = OptimstepApp(stepper_with_unused_parameter())
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        row = next(line for line in widget_text(app.query_one(GradientsPanel)).splitlines()
                   if line.startswith("unused"))
        assert "skipped" in row


def wide_stepper() -> Stepper:
    torch.manual_seed(0)
    model = torch.nn.Linear(100, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    batches = [(torch.randn(4, 100), torch.randn(4, 1))]
    return Stepper(model, optimizer, torch.nn.MSELoss(), batches)


async def test_large_tensor_is_summarised():
    app = OptimstepApp(wide_stepper())
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        text = widget_text(app.query_one(ParametersPanel))
        shown = re.search(r"\[(.*), … \((\d+) more\)\]", text)
        assert len(shown.group(1).split(", ")) + int(shown.group(2)) == 100


async def test_log_keeps_bounded_lines(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        log = app.query_one(AssertionLog)
        log.show_records(stepper.records * 200)
        await pilot.pause()
        assert len(log.lines) == log.max_lines


async def test_no_color_shows_pass_in_words(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = OptimstepApp(Stepper.from_scenario(Scenario()))
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        assert app.no_color
        assert any(re.match(r"\s*1\s+PASS\s", line) for line in log_lines(app))


def overflowing(app: OptimstepApp, width: int) -> list[str]:
    """Return the shown widgets that reach past `width` columns or can scroll sideways."""
    return [repr(widget) for widget in app.screen.walk_children(with_self=True)
            if widget.display and (widget.region.right > width
                                   or widget.is_scrollable and widget.max_scroll_x > 0
                                   or widget.show_horizontal_scrollbar)]


@pytest.mark.parametrize("keys", [(), ("n", "n", "n"), ("f",), ("f", "r")])
async def test_fits_80_columns(app, keys):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, *keys)
        assert overflowing(app, SIZE[0]) == []


async def test_large_model_fits_80_columns():
    app = OptimstepApp(wide_stepper())
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        assert overflowing(app, SIZE[0]) == []


async def test_help_fits_80_columns(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "question_mark")
        assert overflowing(app, SIZE[0]) == []
