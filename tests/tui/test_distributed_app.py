"""Pilot tests of the distributed app on real local ranks: ZeRO steps, rank switches, quitting.

Starting the ranks takes several seconds, so each fixture drives one app session from
start to exit and keeps what it saw. The tests then check one thing each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget

from optimstep.core.distributed import DistributedRun
from optimstep.core.distributed.faults import FAULT_ENV, Fault
from optimstep.tui.distributed_app import DistributedApp
from optimstep.tui.distributed_failure import FailureScreen
from optimstep.tui.distributed_state import READY, STOPPED
from optimstep.tui.distributed_views import RankTable
from optimstep.tui.panels import AssertionLog, ParametersPanel, StatusHeader

pytestmark = pytest.mark.slow

SIZE = (80, 24)
START_TIMEOUT = 120.0
"""Seconds the tests wait for ranks to start or steps to arrive before they fail."""


def rank_alive(pid: int) -> bool:
    """Whether `pid` is still a rank process (and not a later process that reused the id)."""
    try:
        return b"optimstep.core.distributed.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False


def widget_text(widget: Widget) -> str:
    """Return the text a widget shows, border included, one line per row."""
    width, height = widget.outer_size
    strips = widget.render_lines(Region(0, 0, width, height))
    return "\n".join(strip.text.rstrip() for strip in strips)


def table_row(text: str, rank: int) -> list[str]:
    """Return the words of rank `rank`'s row in the rank table, without the `▶` mark."""
    for line in text.splitlines()[1:]:
        words = [word for word in line.split() if word != "▶"]
        if words[1] == str(rank):
            return words
    raise AssertionError(f"no row of rank {rank} in:\n{text}")


def log_lines(app: DistributedApp) -> list[str]:
    return [strip.text.rstrip() for strip in app.query_one(AssertionLog).lines]


async def wait_until(pilot: Pilot, condition: Callable[[], bool], what: str) -> None:
    """Let the app run until `condition()` holds; fail after START_TIMEOUT seconds."""
    deadline = time.monotonic() + START_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def step(pilot: Pilot, key: str = "n") -> None:
    """Press `key` and wait until every rank has taken the steps requested so far."""
    app = pilot.app
    await pilot.press(key)
    await wait_until(pilot, lambda: len(app.history.steps) == app.history.target_step
                     or app.run_state == STOPPED, "the steps")
    await pilot.pause()


async def quit_app(pilot: Pilot) -> None:
    """Press q and wait until the app has closed the run and exited."""
    await pilot.press("q")
    await wait_until(pilot, lambda: pilot.app.return_code is not None, "the app to exit")


def observe(app: DistributedApp, script) -> dict:
    """Run `script(pilot, seen)` on the app at 80x24 and return what it stored in `seen`."""
    seen: dict = {}

    async def session() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await script(pilot, seen)
    asyncio.run(session())
    seen["return_code"] = app.return_code
    return seen


@pytest.fixture(scope="module")
def zero():
    """A 2-rank ZeRO run: start, three steps, rank 1, panels, consolidation, Tab, quit."""
    app = DistributedApp(DistributedRun(strategy="zero", world_size=2))

    async def script(pilot: Pilot, seen: dict) -> None:
        seen["starting"] = widget_text(app.query_one("#run-status"))
        await wait_until(pilot, lambda: app.run_state == READY, "the ranks to start")
        seen["pids"] = app.dist_run.pids
        for _ in range(3):
            await step(pilot)
        seen["header"] = widget_text(app.query_one(StatusHeader))
        seen["summary"] = widget_text(app.query_one("#summary"))
        seen["table"] = widget_text(app.query_one(RankTable))
        seen["rank 0 log"] = log_lines(app)
        seen["rank 0 title"] = app.query_one("#log-box").border_title
        await pilot.press("p")
        seen["rank 0 parameters"] = widget_text(app.query_one(ParametersPanel))
        await pilot.press("2")
        await pilot.pause()
        seen["selected"] = app.selected
        seen["rank 1 parameters"] = widget_text(app.query_one(ParametersPanel))
        await pilot.press("p")
        await pilot.pause()
        seen["rank 1 log"] = log_lines(app)
        seen["rank 1 title"] = app.query_one("#log-box").border_title
        seen["rank 1 table"] = widget_text(app.query_one(RankTable))
        seen["log overflow"] = app.query_one(AssertionLog).max_scroll_x
        await pilot.press("z")
        await wait_until(pilot, lambda: app.history.consolidated, "the consolidated checks")
        await pilot.pause()
        seen["consolidated log"] = log_lines(app)
        seen["consolidated summary"] = widget_text(app.query_one("#summary"))
        await pilot.press("tab")
        seen["after tab"] = app.selected
        await pilot.press("left_square_bracket")
        seen["after ["] = app.selected
        seen["passed"] = [s.passed for s in app.history.steps]
        await quit_app(pilot)
    seen = observe(app, script)
    seen["alive"] = [pid for pid in seen["pids"] if rank_alive(pid)]
    return seen


def test_status_says_ranks_are_starting(zero):
    assert "starting 2 ranks" in zero["starting"]


def test_three_steps_reach_step_3(zero):
    assert "step 3" in zero["header"]


def test_every_step_passes(zero):
    assert zero["passed"] == [True, True, True]


def test_summary_counts_ranks_and_checks(zero):
    assert zero["summary"].strip().startswith("PASS  step 3: 2 ranks, 22 checks, 0 failed")


def test_table_lists_each_rank_with_its_pid(zero):
    pids = [table_row(zero["table"], rank)[2] for rank in (0, 1)]
    assert pids == [str(pid) for pid in zero["pids"]]


def test_table_shows_ranks_idle_and_passing(zero):
    rows = [table_row(zero["table"], rank) for rank in (0, 1)]
    assert [(row[3], row[4], row[6]) for row in rows] == [("idle", "3", "PASS")] * 2


def test_rank_0_log_is_titled_rank_0(zero):
    assert zero["rank 0 title"] == "Assertion log: rank 0 of 2"


def test_key_2_selects_rank_1(zero):
    assert zero["selected"] == 1


def test_rank_1_log_is_titled_rank_1(zero):
    assert zero["rank 1 title"] == "Assertion log: rank 1 of 2"


def test_selected_row_is_marked(zero):
    marked = [line for line in zero["rank 1 table"].splitlines() if "▶" in line]
    assert marked[0].split()[2] == "1"


def test_rank_0_panel_shows_the_weight_it_owns(zero):
    names = [line.split()[0] for line in zero["rank 0 parameters"].splitlines()[1:]]
    assert names == ["weight"]


def test_rank_1_panel_shows_the_bias_it_owns(zero):
    names = [line.split()[0] for line in zero["rank 1 parameters"].splitlines()[1:]]
    assert names == ["bias"]


def test_rank_1_log_checks_the_bias_state(zero):
    single = {line.split()[2] for line in zero["rank 1 log"] if " single " in line}
    assert single == {"bias.param", "bias.step", "bias.exp_avg", "bias.exp_avg_sq"}


def test_rank_1_log_has_average_and_ranks_checks(zero):
    modes = {line.split()[3] for line in zero["rank 1 log"] if line.split()[1:2] == ["PASS"]}
    assert {"average", "ranks"} <= modes


def test_rank_1_log_has_no_failure(zero):
    assert [line for line in zero["rank 1 log"] if "FAIL" in line or "ERROR" in line] == []


def test_log_fits_80_columns(zero):
    assert zero["log overflow"] == 0


def test_consolidated_checks_go_to_the_owner(zero):
    names = {line.split()[2] for line in zero["consolidated log"]
             if line.split()[3:4] == ["consolidated"]}
    assert names == {"bias.step", "bias.exp_avg", "bias.exp_avg_sq"}


def test_consolidated_checks_pass(zero):
    assert "consolidated: 6 checks, 0 failed" in zero["consolidated summary"]


def test_tab_cycles_to_rank_0(zero):
    assert zero["after tab"] == 0


def test_left_bracket_cycles_back_to_rank_1(zero):
    assert zero["after ["] == 1


def test_quit_exits_0(zero):
    assert zero["return_code"] == 0


def test_quit_leaves_no_rank_process(zero):
    assert zero["alive"] == []


@pytest.fixture(scope="module")
def crashed():
    """Rank 1 raises at step 2 of a 2-rank ZeRO run; the app then gets n, Escape, 2 and q."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(FAULT_ENV, Fault("raise", rank=1, step=2).spec())
        app = DistributedApp(DistributedRun(strategy="zero", world_size=2, step_timeout=600))

        async def script(pilot: Pilot, seen: dict) -> None:
            await wait_until(pilot, lambda: app.run_state == READY, "the ranks to start")
            seen["pids"] = app.dist_run.pids
            await step(pilot)
            await step(pilot)
            await wait_until(pilot, lambda: isinstance(app.screen, FailureScreen),
                             "the failure to show")
            seen["modal"] = widget_text(app.screen.query_one("#failure-report"))
            seen["alive after failure"] = [pid for pid in seen["pids"] if rank_alive(pid)]
            await pilot.press("escape")
            await step(pilot)
            seen["steps after n"] = len(app.history.steps)
            seen["status"] = widget_text(app.query_one("#run-status"))
            seen["table"] = widget_text(app.query_one(RankTable))
            await pilot.press("2")
            await pilot.pause()
            seen["rank 1 log"] = log_lines(app)
            seen["running"] = app.is_running
            await quit_app(pilot)
        return observe(app, script)


def test_crash_modal_names_rank_step_and_phase(crashed):
    assert "rank 1 failed at step 2 in forward" in crashed["modal"]


def test_crash_modal_shows_the_exception(crashed):
    assert "RuntimeError: planted fault: rank 1 raised at step 2" in crashed["modal"]


def test_crash_ends_every_rank(crashed):
    assert crashed["alive after failure"] == []


def test_app_stays_open_after_a_crash(crashed):
    assert crashed["running"]


def test_stepping_is_disabled_after_a_crash(crashed):
    assert crashed["steps after n"] == 1


def test_status_says_stepping_is_disabled(crashed):
    assert "stepping is disabled" in " ".join(crashed["status"].split())


def test_table_marks_the_failed_rank(crashed):
    assert table_row(crashed["table"], 1)[3:5] == ["failed:", "forward"]


def test_failed_rank_log_shows_error_and_traceback(crashed):
    error = [line for line in crashed["rank 1 log"] if " ERROR " in line]
    assert error[0].split()[0] == "2"


def test_failed_rank_log_ends_with_the_exception(crashed):
    assert crashed["rank 1 log"][-1].strip() == \
        "RuntimeError: planted fault: rank 1 raised at step 2"


def test_quit_after_a_crash_exits_0(crashed):
    assert crashed["return_code"] == 0


@pytest.fixture(scope="module")
def hung():
    """Rank 1 hangs at step 2 of a 2-rank DDP run with a 2 s step deadline."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(FAULT_ENV, Fault("hang", rank=1, step=2).spec())
        app = DistributedApp(DistributedRun(strategy="ddp", world_size=2, step_timeout=2))

        async def script(pilot: Pilot, seen: dict) -> None:
            await wait_until(pilot, lambda: app.run_state == READY, "the ranks to start")
            await step(pilot)
            await step(pilot)
            await wait_until(pilot, lambda: isinstance(app.screen, FailureScreen),
                             "the timeout to show")
            seen["modal"] = widget_text(app.screen.query_one("#failure-report"))
            await pilot.press("escape")
            seen["table"] = widget_text(app.query_one(RankTable))
            await pilot.press("2")
            await pilot.pause()
            seen["rank 1 log"] = log_lines(app)
            await quit_app(pilot)
        return observe(app, script)


def test_hang_modal_names_the_deadline(hung):
    assert "step 2 timed out after 2 s" in hung["modal"]


def test_hang_modal_shows_the_stuck_rank_phase(hung):
    assert "rank 1: forward" in hung["modal"]


def test_table_marks_the_stuck_rank(hung):
    assert table_row(hung["table"], 1)[3:5] == ["hung:", "forward"]


def test_stuck_rank_log_shows_its_stack(hung):
    assert any("(most recent call first)" in line for line in hung["rank 1 log"])


def test_quit_after_a_hang_exits_0(hung):
    assert hung["return_code"] == 0


@pytest.fixture(scope="module")
def quit_while_starting():
    """q pressed as soon as both rank processes exist, long before they are ready."""
    app = DistributedApp(DistributedRun(strategy="zero", world_size=2))

    async def script(pilot: Pilot, seen: dict) -> None:
        await wait_until(pilot, lambda: len(app.dist_run.pids) == 2, "the rank processes")
        seen["pids"] = app.dist_run.pids
        seen["state"] = app.run_state
        await quit_app(pilot)
    seen = observe(app, script)
    seen["alive"] = [pid for pid in seen["pids"] if rank_alive(pid)]
    return seen


def test_quit_comes_before_the_ranks_are_ready(quit_while_starting):
    assert quit_while_starting["state"] == "starting"


def test_quit_while_starting_exits_0(quit_while_starting):
    assert quit_while_starting["return_code"] == 0


def test_quit_while_starting_ends_every_rank(quit_while_starting):
    assert quit_while_starting["alive"] == []
