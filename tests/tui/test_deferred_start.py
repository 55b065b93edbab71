"""The app opened before its source is built, as the CLI opens it: first frame, keys, errors."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest
from textual.app import App

from optimstep.core import Scenario, ScenarioError, Stepper
from optimstep.core.rules.adam import Adam
from optimstep.core.rules.sgd import SGD
from optimstep.tui.app import OptimstepApp
from optimstep.tui.cli import main
from optimstep.tui.panels import AssertionLog, ParametersPanel, RecordPanel, TermsPanel

from test_app import header, log_lines, press, step_shown, widget_text

SIZE = (80, 24)
BUILDING = "building Adam…"


class GatedBuild:
    """Builds a Stepper on the default scenario once `release` is set."""

    def __init__(self, scenario: Scenario | None = None, error: Exception | None = None):
        self.release = threading.Event()
        self.started = threading.Event()
        self.scenario = scenario or Scenario()
        self.error = error

    def __call__(self) -> Stepper:
        self.started.set()
        assert self.release.wait(60), "the test never released the build"
        if self.error is not None:
            raise self.error
        return Stepper.from_scenario(self.scenario)


@pytest.fixture
def gate():
    return GatedBuild()


def deferred(gate: GatedBuild, rule=None) -> OptimstepApp:
    return OptimstepApp.deferred("linear", rule or Adam("torch"), gate)


@contextlib.asynccontextmanager
async def opened(gate: GatedBuild, rule=None):
    """Run the app on `gate`; release the build at the end, or the event loop waits for it."""
    try:
        async with deferred(gate, rule).run_test(size=SIZE) as pilot:
            yield pilot
    finally:
        gate.release.set()


async def exited(app: OptimstepApp) -> None:
    """Wait until the app has exited."""
    for _ in range(600):
        if app.return_value is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the app did not exit")


async def built(pilot, gate: GatedBuild) -> None:
    """Release the build and wait until the app shows the source and ran what waited."""
    gate.release.set()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def notes(app: OptimstepApp) -> list[str]:
    return [notification.message for notification in app._notifications]


async def test_building_header_shows_scenario_and_step(gate):
    async with opened(gate) as pilot:
        await pilot.pause()
        text = header(pilot.app)
        assert "scenario: linear" in text
        assert step_shown(pilot.app) == 0
        assert BUILDING in text


async def test_building_panels_show_frames(gate):
    async with opened(gate) as pilot:
        await pilot.pause()
        titles = [panel.border_title for panel in pilot.app.query(RecordPanel)
                  if panel.display]
        assert titles == ["Parameters", "Gradients", "Moments", "Bias-corrected", "Update",
                          "Computed vs actual update"]


async def test_building_panels_show_status(gate):
    async with opened(gate) as pilot:
        await pilot.pause()
        for panel in pilot.app.query(RecordPanel):
            if panel.display:
                assert BUILDING in widget_text(panel)


async def test_building_log_line(gate):
    async with opened(gate) as pilot:
        await pilot.pause()
        assert log_lines(pilot.app)[0].startswith(f"step 0: {BUILDING}")


async def test_build_runs_while_frame_shows(gate):
    async with opened(gate) as pilot:
        await pilot.pause()
        assert gate.started.wait(30)
        assert pilot.app.build_status == BUILDING


async def test_built_source_fills_panels(gate):
    async with opened(gate) as pilot:
        await built(pilot, gate)
        assert "weight  -0.500000" in widget_text(pilot.app.query_one(ParametersPanel))
        assert log_lines(pilot.app)[0].startswith("step 0: initial values")
        assert "Adam lr=0.1" in header(pilot.app)
        assert BUILDING not in header(pilot.app)


async def test_steps_during_build_run_after(gate):
    async with opened(gate) as pilot:
        await pilot.press("n", "n")
        await built(pilot, gate)
        assert step_shown(pilot.app) == 2


async def test_keys_during_build_keep_order(gate):
    async with opened(gate) as pilot:
        await pilot.press("f", "r", "n")
        await built(pilot, gate)
        assert step_shown(pilot.app) == 1
        assert isinstance(pilot.app.source, Stepper)
        assert pilot.app.source.step_count == 1


@pytest.mark.parametrize("key", ["b", "e", "c", "t", "x", "v", "s", "right_square_bracket",
                                 "full_stop", "w"])
async def test_source_key_during_build_notes(gate, key):
    async with opened(gate) as pilot:
        await pilot.press(key)
        await pilot.pause()
        assert any(BUILDING in note for note in notes(pilot.app))
        assert pilot.app.view == "panels"
        assert len(pilot.app.screen_stack) == 1


async def test_source_key_after_build_works(gate):
    async with opened(gate) as pilot:
        await pilot.press("x")
        await built(pilot, gate)
        await press(pilot, "x")
        assert pilot.app.view == "formula"


async def test_quit_during_build(gate):
    async with opened(gate) as pilot:
        await pilot.press("n", "q")
        await exited(pilot.app)
        assert pilot.app.return_value == 0
        assert pilot.app.build_error is None


async def test_other_rule_panels_replaced(gate):
    async with opened(gate, SGD("torch")) as pilot:
        await pilot.pause()
        assert [panel.border_title for panel in pilot.app.query(TermsPanel)][0] == "Momentum"
        await built(pilot, gate)
        titles = [panel.border_title for panel in pilot.app.query(TermsPanel)]
        assert titles == ["Moments", "Bias-corrected", "Update", "Other terms"]


async def test_other_rule_panels_show_steps(gate):
    async with opened(gate, SGD("torch")) as pilot:
        await pilot.press("n")
        await built(pilot, gate)
        moments = next(panel for panel in pilot.app.query(TermsPanel)
                       if panel.border_title == "Moments")
        assert "-0.450000" in widget_text(moments)


async def test_build_scenario_error_exits_2():
    gate = GatedBuild(error=ScenarioError("invalid hyper-parameters for Adam: bad lr"))
    async with opened(gate) as pilot:
        await pilot.press("n")
        gate.release.set()
        await exited(pilot.app)
        assert pilot.app.return_value == 2
        assert str(pilot.app.build_error) == "invalid hyper-parameters for Adam: bad lr"


async def test_build_other_error_exits_1():
    gate = GatedBuild(error=RuntimeError("state_dict failed"))
    async with opened(gate) as pilot:
        gate.release.set()
        await exited(pilot.app)
        assert pilot.app.return_value == 1
        assert isinstance(pilot.app.build_error, RuntimeError)


# The command: errors only the build finds end the app with one line and no traceback.

BROKEN = """\
import torch


class BrokenAdam(torch.optim.Adam):
    def __init__(self, params, lr=0.1, betas=(0.9, 0.99), eps=1e-8):
        raise ValueError("BrokenAdam rejects\\nevery value")


class NoStateAdam(torch.optim.Adam):
    def state_dict(self):
        raise RuntimeError("no state")
"""


@pytest.fixture
def broken_module(tmp_path, monkeypatch):
    (tmp_path / "broken_adam.py").write_text(BROKEN)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def headless(monkeypatch):
    # The app runs as in a terminal but draws nowhere; a build that succeeds would wait
    # for keys, so these tests use inputs the build rejects.
    monkeypatch.setattr(OptimstepApp, "run",
                        lambda self, loop=None: App.run(self, headless=True, loop=loop))


def test_cli_build_error_one_line(broken_module, headless, capsys):
    status = main(["--optimizer-class", "broken_adam:BrokenAdam"])
    err = capsys.readouterr().err
    assert status == 2
    assert err == ("optimstep: error: invalid hyper-parameters for BrokenAdam: BrokenAdam "
                   "rejects every value\n")


def test_cli_user_code_error_exits_1(broken_module, headless, capsys):
    status = main(["--optimizer-class", "broken_adam:NoStateAdam"])
    err = capsys.readouterr().err
    assert status == 1
    assert err == "optimstep: error: building the run raised RuntimeError: no state\n"
