"""Pilot tests of the layout at 80x24: the assertion log stays on screen, the panels scroll,
and a step repaints only what changed."""

from __future__ import annotations

import dataclasses

import pytest
from textual.geometry import Region
from textual.widget import Widget

from optimstep.core import PRESETS, Stepper
from optimstep.tui.app import OptimstepApp
from optimstep.tui.panels import AssertionLog, StatusHeader, UpdatesPanel
from optimstep.tui.teaching import MIN_HEIGHT, MIN_WIDTH

from test_app import SIZE, press, widget_text

LOG_MIN_LINES = 4
"""Lines of the log that stay on screen, under its title, however tall the panels are."""


def mlp_app(reference: str = "torch") -> OptimstepApp:
    return OptimstepApp(Stepper.from_scenario(
        dataclasses.replace(PRESETS["mlp"], reference=reference)))


def log_lines_on_screen(app: OptimstepApp) -> int:
    """Return how many rows of the log lie between its title and the footer."""
    log = app.query_one(AssertionLog).region
    footer_top = app.size.height - 1
    return max(0, min(log.bottom, footer_top) - log.y)


async def test_log_on_screen_after_twenty_steps(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f", "f")
        assert log_lines_on_screen(app) >= LOG_MIN_LINES
        assert not app.screen.show_vertical_scrollbar


async def test_updates_stay_a_table_after_twenty_steps(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f", "f")
        lines = widget_text(app.query_one(UpdatesPanel)).splitlines()
        assert lines[1].split() == ["computed", "actual", "abs", "ulp"]
        assert lines[2].split()[0] == "weight"
        assert len(lines[2].split()) == 5


@pytest.mark.parametrize("keys", [("n", "n"), ("n", "n", "P"), ("n", "n", "P", "P"),
                                  ("n", "n", "s", "P"), ("n", "n", "x", "P")])
async def test_log_on_screen_with_large_panels(keys):
    app = mlp_app()
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, *keys)
        assert log_lines_on_screen(app) >= LOG_MIN_LINES
        assert not app.screen.show_vertical_scrollbar


async def test_log_on_screen_at_minimum_size():
    app = mlp_app()
    async with app.run_test(size=(MIN_WIDTH, MIN_HEIGHT)) as pilot:
        await press(pilot, "n", "P")
        assert log_lines_on_screen(app) >= LOG_MIN_LINES


async def test_down_key_scrolls_panels():
    app = mlp_app()
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        panels = app.query_one("#panels")
        assert panels.max_scroll_y > 0
        await press(pilot, "down")
        assert panels.scroll_y > 0


async def test_k_scrolls_panels_back():
    app = mlp_app()
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "j", "j")
        panels = app.query_one("#panels")
        assert panels.scroll_y > 0
        await press(pilot, "k", "k")
        assert panels.scroll_y == 0


async def test_down_key_scrolls_summary_view():
    # The textbook flavour rounds differently, so the summary lists its worst elements.
    app = mlp_app("textbook")
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "s", "P")
        box = app.query_one("#summary-box")
        assert box.max_scroll_y > 0
        await press(pilot, "down")
        assert box.scroll_y > 0


async def test_panels_keep_width_when_scrolling():
    app = mlp_app()
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n")
        assert app.query_one("#parameters").region.right == SIZE[0] // 2 - 1


async def test_header_keeps_its_lines_when_loss_shortens(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f")
        header = app.query_one(StatusHeader)
        # Too long for the first line beside the history, which then wraps to a third line.
        header.loss = -1e-08
        await pilot.pause()
        height = header.size.height
        header.loss = 0.5
        await pilot.pause()
        assert header.size.height == height == 3


async def test_header_keeps_history_in_place(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f")
        header = app.query_one(StatusHeader)
        header.loss = 0.0123456
        await pilot.pause()
        column = widget_text(header).index("history")
        header.loss = 0.5
        await pilot.pause()
        assert widget_text(header).index("history") == column


async def test_log_scrollbar_shows_when_scrolled_back(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "pageup")
        assert app.query_one(AssertionLog).has_class("-scrolled")


async def test_log_scrollbar_hides_at_newest_line(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "pageup", "n")
        assert not app.query_one(AssertionLog).has_class("-scrolled")


async def test_step_repaints_only_changed_log_cells(app, monkeypatch):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "n", "n", "n")
        log = app.query_one(AssertionLog)
        repainted: list[tuple[Region, ...]] = []
        set_dirty = Widget._set_dirty

        def record(widget: Widget, *regions: Region) -> None:
            if widget is log:
                repainted.append(regions)
            set_dirty(widget, *regions)

        monkeypatch.setattr(Widget, "_set_dirty", record)
        await press(pilot, "n")
        # The lines of step 4 differ from those of step 3 above them in the step number only.
        assert repainted
        assert all(regions for regions in repainted)
        assert all(region.right <= 4 for regions in repainted for region in regions)


async def test_log_lines_written_narrow_widen_with_the_terminal(app):
    async with app.run_test(size=(64, 20)) as pilot:
        await press(pilot, "n")
        log = app.query_one(AssertionLog)
        assert "ulp 0" not in widget_text(log)
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        lines = [line for line in widget_text(log).splitlines() if "PASS" in line]
        assert lines
        assert all(line.rstrip().endswith("ulp 0") for line in lines)


async def test_log_keeps_its_lines_when_it_widens(app):
    async with app.run_test(size=(64, 20)) as pilot:
        await press(pilot, "n", "n")
        log = app.query_one(AssertionLog)
        count = len(log.lines)
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        assert len(log.lines) == count
