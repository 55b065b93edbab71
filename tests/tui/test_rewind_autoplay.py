"""Pilot and unit tests of autoplay: start, stop, speed, bounded screen updates, jumps."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rewind_helpers import (SIZE, fill, header, log_lines, notifications, press, settle,
                            step_shown)

from optimstep.core import NoMoreSteps, Scenario, Stepper
from optimstep.core.replay import TraceSource
from optimstep.tui.app import OptimstepApp
from optimstep.tui.autoplay import DEFAULT_SPEED, FRAME_SECONDS, SPEEDS, Run, play
from optimstep.tui.goto import GotoScreen
from optimstep.tui.messages import StepsPlayed

MAX_SPEED_PRESSES = len(SPEEDS) - 1 - DEFAULT_SPEED
"""Presses of `+` from the default speed to the last one, no pause between steps."""


class FrameCounter:
    """A message hook that counts StepsPlayed frames and the records they carry."""

    def __init__(self) -> None:
        self.frames: list[float] = []
        self.records = 0

    def __call__(self, message) -> None:
        if isinstance(message, StepsPlayed):
            self.frames.append(time.monotonic())
            self.records += len(message.records)


async def test_autoplay_takes_steps(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await pilot.pause(0.5)
        await press(pilot, "p")
        assert stepper.step_count > 0
        assert step_shown(app) == stepper.step_count


async def test_autoplay_stops_after_step_in_progress(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*["plus"] * MAX_SPEED_PRESSES, "p")
        await pilot.pause(0.3)
        await pilot.press("p")
        at_press = stepper.step_count
        await settle(pilot)
        stopped = stepper.step_count
        assert stopped <= at_press + 1
        await pilot.pause(0.3)
        assert stepper.step_count == stopped
        assert step_shown(app) == stopped


async def test_autoplay_shows_speed_in_header(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await pilot.pause()
        assert "▶ 5 steps/s" in header(app)
        await pilot.press("plus")
        await pilot.pause()
        assert "▶ 10 steps/s" in header(app)
        await press(pilot, "p")
        assert "autoplay" not in header(app)


async def test_speed_keys_clamp_at_slowest(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*["minus"] * (DEFAULT_SPEED + 2), "p")
        await pilot.pause()
        assert "▶ 1 step/s" in header(app)
        await press(pilot, "p")


async def test_speed_change_while_stopped_notifies(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "plus")
        assert "autoplay speed 10 steps/s" in notifications(app)


async def test_autoplay_frames_bounded(app, stepper):
    counter = FrameCounter()
    async with app.run_test(size=SIZE, message_hook=counter) as pilot:
        await pilot.press(*["plus"] * MAX_SPEED_PRESSES, "p")
        await pilot.pause(0.6)
        await pilot.press("p")
        await settle(pilot)
        span = counter.frames[-1] - counter.frames[0]
        assert span >= 0.5
        # FRAME_SECONDS allows 20 frames a second; the last batch at the stop adds one.
        assert (len(counter.frames) - 2) / span <= 30
        assert counter.records == stepper.step_count


async def test_autoplay_log_summarises_batches(app, stepper):
    counter = FrameCounter()
    async with app.run_test(size=SIZE, message_hook=counter) as pilot:
        await pilot.press(*["plus"] * MAX_SPEED_PRESSES, "p")
        await pilot.pause(0.6)
        await press(pilot, "p")
        checks = len(stepper.records[-1].checks)
        lines = log_lines(app)
        # A frame of one step writes one line per check, a batch one summary line.
        assert len(lines) <= 1 + len(counter.frames) * checks
        assert not [line for line in lines if " FAIL " in line]


async def test_step_key_stops_autoplay(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await pilot.pause(0.3)
        await pilot.press("n")
        at_press = stepper.step_count
        await settle(pilot)
        assert stepper.step_count <= at_press + 2
        assert "autoplay" not in header(app)
        stopped = stepper.step_count
        await pilot.pause(0.3)
        assert stepper.step_count == stopped


async def test_goto_during_autoplay_counts_from_stop(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*["plus"] * MAX_SPEED_PRESSES, "p")
        await pilot.pause(0.3)
        await press(pilot, "g")
        stopped = stepper.step_count
        assert isinstance(app.screen, GotoScreen)
        assert app.screen.current == stopped
        await fill(pilot, "#goto-step", "-2")
        assert stepper.step_count == stopped - 2
        assert step_shown(app) == stopped - 2


async def test_autoplay_ends_at_trace_end():
    source = TraceSource(Stepper.from_scenario(Scenario()).run(5), "run.jsonl")
    app = OptimstepApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*["plus"] * MAX_SPEED_PRESSES, "p")
        await settle(pilot)
        assert source.step_count == 5
        assert step_shown(app) == 5
        assert "autoplay" not in header(app)
        assert any("end of trace" in text for text in notifications(app))


async def test_long_jump_stops_with_p(app, stepper):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g", *"1000000", "enter")
        await pilot.pause(0.3)
        await pilot.press("p")
        await settle(pilot)
        stopped = stepper.step_count
        assert 0 < stopped < 1_000_000
        assert step_shown(app) == stopped


# The stepping loop itself.


def shown_at_once(run: Run, batches: list) -> Callable[[list], None]:
    """Return a post_frame that keeps each batch and marks it shown, as the app does."""
    def post_frame(batch):
        batches.append(batch)
        run.frame_shown.set()
    return post_frame


def test_play_reaches_target():
    source = Stepper.from_scenario(Scenario())
    run = Run(target=7)
    batches = []
    play(source, run, shown_at_once(run, batches))
    assert source.step_count == 7
    assert [record.step for batch in batches for record in batch] == list(range(1, 8))


def test_play_waits_for_frame_shown():
    source = Stepper.from_scenario(Scenario())
    run = Run()
    batches = []
    timer = threading.Timer(4 * FRAME_SECONDS, run.stop.set)
    timer.start()
    play(source, run, batches.append)
    timer.join()
    # Nothing marks the first frame shown, so only the last batch follows it.
    assert len(batches) == 2
    assert len(batches[0]) == 1
    assert [record.step for batch in batches for record in batch] == list(
        range(1, source.step_count + 1))


def test_play_posts_last_batch_on_error():
    source = TraceSource(Stepper.from_scenario(Scenario()).run(3), "run.jsonl")
    run = Run()
    batches = []
    try:
        play(source, run, shown_at_once(run, batches))
    except NoMoreSteps:
        pass
    assert [record.step for batch in batches for record in batch] == [1, 2, 3]


def test_play_stops_when_stop_set():
    source = Stepper.from_scenario(Scenario())
    run = Run(speed=SPEEDS[0])
    timer = threading.Timer(FRAME_SECONDS, run.stop.set)
    timer.start()
    play(source, run, lambda batch: None)
    timer.join()
    assert source.step_count == 1


def test_run_label_names_speed():
    assert Run(speed=5).label == "▶ 5 steps/s"
    assert Run(speed=None).label == "▶ max speed"
    assert Run(target=40).label == "going to step 40 (p stops)"
