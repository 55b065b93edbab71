"""Pilot tests of the formula, summary and plots views, the selection, the teaching toggles,
the presentation layout and the minimum terminal size."""

from __future__ import annotations

import math
import re

import pytest
import torch
from textual.widgets import Digits

from optimstep.core import Scenario, Stepper
from optimstep.tui.app import OptimstepApp
from optimstep.tui.help import HelpScreen
from optimstep.tui.panels import AssertionLog, ParametersPanel, StatusHeader
from optimstep.tui.panels.formula import FormulaPanel
from optimstep.tui.panels.summary import SummaryPanel
from optimstep.tui.selection import Selection
from optimstep.tui.teaching import MIN_HEIGHT, MIN_WIDTH
from optimstep.tui.toggles import TogglesScreen

from test_app import header, log_lines, press, row_numbers, step_shown, widget_text

SIZE = (80, 24)


def formula_text(app: OptimstepApp) -> str:
    return widget_text(app.query_one(FormulaPanel))


def fail_lines(app: OptimstepApp, step: int, name: str) -> list[str]:
    return [line for line in log_lines(app)
            if re.match(rf"\s*{step}\s+FAIL\s+{re.escape(name)}\s", line)]


def abs_error(line: str) -> float:
    return float(re.search(r"\babs (\S+)", line).group(1))


async def test_formula_view_shows_numbers_at_step_2(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "x")
        assert "m  = 0.9 × (−0.4500) + 0.1 × (−3.7000) = −0.7750" in formula_text(app)


async def test_formula_view_shows_torch_update(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "x")
        assert re.search(r"torch Δθ = .* = 0\.0991\s+vs computed: abs 0, 0 ulp",
                         formula_text(app))


async def test_formula_view_hides_record_panels(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "x")
        assert not app.query_one("#panels").display
        assert app.query_one(FormulaPanel).display


async def test_view_key_again_returns_to_panels(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "x", "x")
        assert app.query_one("#panels").display
        assert not app.query_one(FormulaPanel).display


async def test_formula_before_step_shows_hint(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "x")
        assert "press n to step" in formula_text(app)


async def test_next_parameter_selects_bias(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "x", "right_square_bracket")
        assert app.selection == Selection("bias", 0)
        assert "update of bias" in formula_text(app)


async def test_previous_parameter_wraps_around(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "left_square_bracket")
        assert app.selection.param == "bias"


async def test_selection_survives_steps_and_reset(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "right_square_bracket", "n", "r", "n", "x")
        assert app.selection == Selection("bias", 0)
        assert "update of bias" in formula_text(app)


def wide_stepper(reference: str = "torch") -> Stepper:
    torch.manual_seed(0)
    model = torch.nn.Linear(100, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    return Stepper(model, optimizer, torch.nn.MSELoss(), [(torch.randn(4, 100),
                                                           torch.randn(4, 1))],
                   reference=reference)


async def test_element_keys_move_and_wrap():
    app = OptimstepApp(wide_stepper())
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "x", "full_stop", "full_stop", "comma")
        assert app.selection == Selection("weight", 1)
        assert "weight[0, 1] (element 2 of 100)" in formula_text(app)
        await press(pilot, "comma", "comma")
        assert app.selection == Selection("weight", 99)


async def test_formula_shows_selected_element_gradient():
    stepper = wide_stepper()
    app = OptimstepApp(stepper)
    async with app.run_test(size=(160, 48)) as pilot:
        await press(pilot, "n", "x", "full_stop", "full_stop", "full_stop")
        grad = stepper.records[-1].param("weight").grad[0, 3].item()
        shown = re.search(r"^ g\s+= ∇L = (\S+)", formula_text(app), re.M).group(1)
        assert float(shown.replace("−", "-")) == pytest.approx(grad, abs=1e-4)


async def test_worst_key_selects_largest_error():
    # The textbook flavour rounds once from float64, so some elements differ from torch's.
    app = OptimstepApp(wide_stepper("textbook"))
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "w")
        assert app.selection.index == app.worst_indices(1)[0]


async def test_worst_key_without_errors_says_so():
    app = OptimstepApp(wide_stepper())
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "w")
        assert app.worst_indices() == []
        assert [n.message for n in app._notifications] == [
            "no element of weight differs from the reference at step 1"]


async def test_summary_view_without_errors_lists_none(app):
    app = OptimstepApp(wide_stepper())
    async with app.run_test(size=(160, 48)) as pilot:
        await press(pilot, "n", "s")
        text = widget_text(app.query_one(SummaryPanel))
        assert "no element differs from the reference" in text
        assert "worst elements" not in text


async def test_summary_view_lists_shape_and_worst(app):
    app = OptimstepApp(wide_stepper("textbook"))
    async with app.run_test(size=(160, 48)) as pilot:
        await press(pilot, "n", "s")
        text = widget_text(app.query_one(SummaryPanel))
        assert "shape (1, 100)  float32  100 elements" in text
        assert "worst elements" in text
        assert re.search(r"^ θ after\s+\S+\s+\S+\s+\S+", text, re.M)


def million_stepper() -> Stepper:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1000, 1000), torch.nn.ReLU(),
                                torch.nn.Linear(1000, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    return Stepper(model, optimizer, torch.nn.MSELoss(), [(torch.randn(8, 1000),
                                                           torch.randn(8, 1))])


async def test_million_parameters_render_and_respond():
    app = OptimstepApp(million_stepper())
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        assert step_shown(app) == 1
        assert "0.weight" in widget_text(app.query_one(ParametersPanel))
        await press(pilot, "s")
        assert "shape (1000, 1000)  float32  1,000,000 elements" in widget_text(
            app.query_one(SummaryPanel))
        await press(pilot, "x", "w")
        assert "of 1,000,000)" in formula_text(app)
        await press(pilot, "right_square_bracket")
        assert "update of 0.bias" in formula_text(app)


async def test_plots_view_after_twenty_steps(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f", "f", "v")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.query_one("#plots").display
        assert app.query_one("#plot-path").display
        assert app._surface is not None
        assert app._surface.contains(*[p.after.item() for p in
                                       app.source.records[-1].params])


async def test_plots_view_without_two_scalars_plots_gradient():
    app = OptimstepApp(wide_stepper())
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "v")
        assert not app.query_one("#plot-path").display
        assert app.query_one("#plot-gradient").display


async def test_surface_leaves_stepping_unchanged(stepper):
    app = OptimstepApp(stepper)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "v", "f")
        await app.workers.wait_for_complete()
    reference = Stepper.from_scenario(Scenario()).run(10)
    assert [r.loss for r in stepper.records] == [r.loss for r in reference]


async def toggle_no_bias_correction(pilot):
    await press(pilot, "t", "1", "t")


async def test_no_bias_correction_fails_step_2_by_expected_error(app):
    async with app.run_test(size=SIZE) as pilot:
        await toggle_no_bias_correction(pilot)
        await press(pilot, "n", "n")
        assert fail_lines(app, 1, "weight.param") == []
        m, v = 0.9 * -0.45 + 0.1 * -3.7, 0.99 * 0.2025 + 0.01 * 3.7**2
        torch_update = 0.1 * (m / 0.19) / (math.sqrt(v / (1 - 0.99**2)) + 1e-8)
        mistaken = 0.1 * m / (math.sqrt(v) + 1e-8)
        [single, carried] = fail_lines(app, 2, "weight.param")
        assert abs_error(single) == pytest.approx(abs(torch_update - mistaken), rel=1e-2)


async def test_no_bias_correction_fails_step_1_with_other_betas():
    scenario = Scenario(hyperparameters={"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8})
    app = OptimstepApp(Stepper.from_scenario(scenario))
    async with app.run_test(size=SIZE) as pilot:
        await toggle_no_bias_correction(pilot)
        await press(pilot, "n")
        m, v = 0.1 * -4.5, 0.001 * 4.5**2
        torch_update = 0.1 * (m / 0.1) / (math.sqrt(v / 0.001) + 1e-8)
        mistaken = 0.1 * m / (math.sqrt(v) + 1e-8)
        [single, _] = fail_lines(app, 1, "weight.param")
        assert abs_error(single) == pytest.approx(abs(torch_update - mistaken), rel=1e-2)


async def test_turning_toggle_off_passes_again(app):
    async with app.run_test(size=SIZE) as pilot:
        await toggle_no_bias_correction(pilot)
        await press(pilot, "n", "n")
        await toggle_no_bias_correction(pilot)
        await press(pilot, "n")
        assert not [line for line in log_lines(app) if re.match(r"\s*3\s+FAIL", line)]


async def test_header_names_toggles_on(app):
    async with app.run_test(size=SIZE) as pilot:
        await toggle_no_bias_correction(pilot)
        assert "teaching: no bias correction" in header(app)


async def test_log_notes_rule_switch(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        await toggle_no_bias_correction(pilot)
        assert re.match(r"\s*2\s+NOTE\s+teaching variants from step 2: no bias correction",
                        log_lines(app)[-1])


@pytest.mark.parametrize("key", ["escape", "t"])
async def test_toggles_close(app, key):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "t")
        assert isinstance(app.screen, TogglesScreen)
        await press(pilot, key)
        assert not isinstance(app.screen, TogglesScreen)


async def test_toggles_read_without_colour(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = OptimstepApp(Stepper.from_scenario(Scenario()))
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "t", "2")
        first = app.screen.query_one("#toggle-no-bias-correction").render()
        second = app.screen.query_one("#toggle-eps-inside-root").render()
        assert str(first).startswith("[ ] 1  no bias correction")
        assert str(second).startswith("[x] 2  ε inside the root")


async def test_l2_toggle_disabled_for_adam(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "t", "3")
        assert app.screen.query_one("#toggle-l2-decay").disabled
        assert not app.screen.query_one("#toggle-l2-decay").value


async def test_toggles_refused_for_trace(trace):
    app = OptimstepApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "t")
        assert not isinstance(app.screen, TogglesScreen)
        assert any("teaching toggles need a live" in n.message for n in app._notifications)


async def test_presentation_shows_large_step(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "P")
        assert app.query_one("#presentation").display
        assert app.query_one("#presentation-step", Digits).value == "2"
        assert app.query_one("#presentation-loss", Digits).value == "1.4900"


async def test_too_small_shows_message_and_keeps_state(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n")
        before = widget_text(app.query_one(ParametersPanel))
        await pilot.resize_terminal(20, 5)
        await press(pilot, "n")
        message = str(app.query_one("#too-small").render())
        assert f"terminal too small (need at least {MIN_WIDTH}x{MIN_HEIGHT}" in message
        assert not app.query_one(StatusHeader).display
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        assert app.query_one(StatusHeader).display
        assert step_shown(app) == 3
        assert row_numbers(widget_text(app.query_one(ParametersPanel)), "weight")[0] == \
            pytest.approx(-0.300935, abs=1e-6)
        assert before != widget_text(app.query_one(ParametersPanel))


async def test_log_written_while_too_small_is_whole(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        await pilot.resize_terminal(20, 5)
        await press(pilot, "n")
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        assert any(re.match(r"\s*2\s+PASS\s+bias\.exp_avg_sq\s+carried abs 0", line)
                   for line in log_lines(app))


@pytest.mark.parametrize("view", ["x", "v", "s", "P"])
async def test_too_small_hides_every_view(app, view):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", view)
        await pilot.resize_terminal(20, 5)
        await pilot.pause()
        shown = [widget.id for widget in app.screen.children if widget.display]
        assert shown == ["too-small"]


async def test_minimum_size_draws_everything(app):
    async with app.run_test(size=(MIN_WIDTH, MIN_HEIGHT)) as pilot:
        await press(pilot, "n")
        assert app.query_one(StatusHeader).display
        assert not app.query_one("#too-small").display


class LongNames(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a_parameter_name_far_too_long_for_any_column_of_the_app = torch.nn.Parameter(
            torch.tensor([0.5]))

    def forward(self, x):
        return x * self.a_parameter_name_far_too_long_for_any_column_of_the_app


async def test_long_name_cut_with_ellipsis():
    model = LongNames()
    stepper = Stepper(model, torch.optim.Adam(model.parameters(), lr=0.1), torch.nn.MSELoss(),
                      [(torch.ones(2, 1), torch.ones(2, 1))])
    app = OptimstepApp(stepper)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "x")
        title = app.query_one(FormulaPanel).border_title
        assert "a_parameter_name_far_too_long_f…" in title


async def test_ascii_borders():
    app = OptimstepApp(Stepper.from_scenario(Scenario()), ascii_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "x")
        assert app.query_one(FormulaPanel).styles.border_top[0] == "ascii"
        assert "0.9 * (-0.4500) + 0.1 * (-3.7000)" in formula_text(app)
        assert all(ord(c) < 128 for c in formula_text(app).replace("─", ""))


async def test_term_linux_draws_ascii(monkeypatch):
    monkeypatch.setenv("TERM", "linux")
    app = OptimstepApp(Stepper.from_scenario(Scenario()))
    async with app.run_test(size=SIZE):
        assert app.has_class("-ascii")


async def test_help_explains_cancelling_corrections(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        notes = str(app.screen.query_one("#help-notes").render())
        assert "cancel at step 1" in notes
        assert f"{MIN_WIDTH}x{MIN_HEIGHT}" in notes


async def test_palette_selects_typed_element():
    app = OptimstepApp(wide_stepper())
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "ctrl+p")
        await pilot.press(*"weight[0, 42]")
        await pilot.pause(0.5)
        await press(pilot, "enter")
        assert app.selection == Selection("weight", 42)


async def test_palette_selects_parameter(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "ctrl+p")
        await pilot.press(*"parameter bias")
        await pilot.pause(0.5)
        await press(pilot, "enter")
        assert app.selection.param == "bias"


async def test_growing_back_restores_layout(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "n")
        await pilot.resize_terminal(20, 5)
        await pilot.pause()
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        assert not app.screen.show_vertical_scrollbar
        assert app.query_one("#log-box").region.bottom <= SIZE[1] - 1


async def test_panels_scroll_where_needed(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "n")
        await pilot.resize_terminal(70, 20)
        await pilot.pause()
        assert not app.screen.show_vertical_scrollbar
        assert app.query_one("#panels").max_scroll_y > 0
        assert app.query_one("#log-box").region.bottom <= 20 - 1


class OwnAdam(torch.optim.Optimizer):
    """Adam written by hand on torch.optim.Optimizer, checked against the Adam rule."""

    def __init__(self, params, lr=0.1, betas=(0.9, 0.99), eps=1e-8):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})


async def test_toggles_refused_for_own_optimizer_class():
    from optimstep.core.rules.adam import Adam

    model = torch.nn.Linear(1, 1)
    stepper = Stepper(model, OwnAdam(model.parameters()), torch.nn.MSELoss(),
                      [(torch.ones(2, 1), torch.zeros(2, 1))], rule=Adam())
    app = OptimstepApp(stepper)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "t")
        assert not isinstance(app.screen, TogglesScreen)
        assert app.variants == frozenset()
        messages = [notification.message for notification in app._notifications]
        assert "teaching toggles need a live run of torch's Adam or AdamW" in messages[-1]
