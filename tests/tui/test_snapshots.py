"""Snapshot tests of the app on the default scenario at fixed terminal sizes.

Update the baselines with `pytest tests/tui/test_snapshots.py --snapshot-update` after a
deliberate change of the layout, and look at the new SVG files before committing them.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from optimstep.core import Scenario, Stepper
from optimstep.tui.app import OptimstepApp


@pytest.fixture(autouse=True)
def colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """Render in colour even where NO_COLOR is set, so the baselines always match."""
    monkeypatch.delenv("NO_COLOR", raising=False)


def default_app() -> OptimstepApp:
    return OptimstepApp(Stepper.from_scenario(Scenario()))


def pressing(*keys: str):
    """Return a pilot script that presses `keys` and waits for the steps they start."""
    async def run_before(pilot: Pilot) -> None:
        await pilot.press(*keys)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    return run_before


def test_start_80x24(snap_compare):
    assert snap_compare(default_app(), terminal_size=(80, 24), run_before=pressing())


def test_three_steps_80x24(snap_compare):
    assert snap_compare(default_app(), terminal_size=(80, 24),
                        run_before=pressing("n", "n", "n"))


def test_three_steps_160x48(snap_compare):
    assert snap_compare(default_app(), terminal_size=(160, 48),
                        run_before=pressing("n", "n", "n"))


def test_help_80x24(snap_compare):
    assert snap_compare(default_app(), terminal_size=(80, 24),
                        run_before=pressing("question_mark"))
