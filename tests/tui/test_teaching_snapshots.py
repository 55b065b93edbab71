"""Snapshot tests of the formula, plots and tensor summary views at fixed terminal sizes.

Update the baselines with `pytest tests/tui/test_teaching_snapshots.py --snapshot-update`
after a deliberate change, and look at the new SVG files before committing them.
"""

from __future__ import annotations

import pytest
import torch
from textual.pilot import Pilot

from optimstep.core import Scenario, Stepper
from optimstep.tui.app import OptimstepApp

SIZES = [(80, 24), (160, 48)]


@pytest.fixture(autouse=True)
def colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """Render in colour on any terminal, so the baselines always match."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


def pressing(*keys: str):
    """Return a pilot script that presses `keys` and waits for the work they start."""
    async def run_before(pilot: Pilot) -> None:
        for key in keys:
            await pilot.press(key)
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
        # The plots view requests the loss surface when it first shows; wait for it too.
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    return run_before


class Field(torch.nn.Module):
    """A (1000, 1000) parameter fitted elementwise to zero, so every number is exact."""

    def __init__(self) -> None:
        super().__init__()
        self.theta = torch.nn.Parameter(torch.linspace(-1, 1, 1_000_000).reshape(1000, 1000))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.theta * inputs


def field_app() -> OptimstepApp:
    model = Field()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    batches = [(torch.ones(1000, 1000), torch.zeros(1000, 1000))]
    return OptimstepApp(Stepper(model, optimizer, torch.nn.MSELoss(), batches, name="field"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_formula_step_2(snap_compare, size):
    app = OptimstepApp(Stepper.from_scenario(Scenario()))
    assert snap_compare(app, terminal_size=size, run_before=pressing("n", "n", "x"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_plots_after_20_steps(snap_compare, size):
    app = OptimstepApp(Stepper.from_scenario(Scenario()))
    assert snap_compare(app, terminal_size=size, run_before=pressing("f", "f", "v"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_large_tensor_summary(snap_compare, size):
    # ε inside the root fails the parameter check by an amount that varies per element.
    keys = ("t", "2", "t", "n", "n", "s")
    assert snap_compare(field_app(), terminal_size=size, run_before=pressing(*keys))
