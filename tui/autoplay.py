"""Autoplay: stepping on its own at a set speed, with at most one screen update per frame."""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from optimstep.core import StepRecord

SPEEDS: tuple[float | None, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, None)
"""Autoplay speeds in steps per second that `+` and `-` move through; None: no pause at all,
as fast as the steps run."""

DEFAULT_SPEED = SPEEDS.index(5)
"""Index in SPEEDS of the speed autoplay starts at."""

FRAME_SECONDS = 1 / 20
"""Shortest time between two screen updates while stepping on its own, in seconds (20 frames
a second): faster steps are shown together, so the terminal output stays bounded."""

SWITCH_INTERVAL_SECONDS = 0.0005
"""Python's thread switch interval while a run steps, in seconds (Python's default is
0.005). Stepping is mostly Python code that holds the GIL, so with the default each
hand-over of the GIL to the UI thread waits up to 5 ms. Measured in tmux at 80x24 on a
loaded 2-core machine, 6 tries each: after `p` at max speed the step shown changed for up
to 0.28 s with the default and up to 0.12 s with 0.5 ms."""

_run_ids = itertools.count(1)


def _set_event() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


def describe_speed(speed: float | None) -> str:
    """Describe a speed as `5 steps/s`, `1 step/s` or `max speed`."""
    if speed is None:
        return "max speed"
    return f"{speed:g} step{'' if speed == 1 else 's'}/s"


@dataclass
class Run:
    """One stretch of stepping on its own: autoplay, or a jump past the history's end.

    The UI thread sets `stop`; the stepping thread reads `speed` before each pause, so a
    change takes effect within a frame.
    """

    target: int | None = None
    """The step a jump ends at; None for autoplay, which runs until stopped."""
    speed: float | None = None
    """Steps per second; None: no pause between steps."""
    stop: threading.Event = field(default_factory=threading.Event)
    """Set to end the run after the step in progress."""
    frame_shown: threading.Event = field(default_factory=_set_event)
    """Set once the UI has handled the last frame posted (and before the first)."""
    id: int = field(default_factory=lambda: next(_run_ids))
    """Tells this run's messages from a later run's."""

    @property
    def label(self) -> str:
        """The header text while the run goes on."""
        if self.target is not None:
            return f"going to step {self.target} (p stops)"
        # Short, so that at 80 columns it fits beside Adam's hyper-parameters: a header that
        # grows a line moves every panel, which repaints the whole screen.
        return f"▶ {describe_speed(self.speed)}"


def play(source: Any, run: Run, post_frame: Callable[[list[StepRecord]], None],
         clock: Callable[[], float] = time.monotonic) -> None:
    """Step `source` until `run.stop` is set or `run.target` is reached.

    Records go to `post_frame` in batches, at most once per FRAME_SECONDS. Before posting,
    stepping waits until the UI has handled the previous frame, so it never outruns the
    screen and leaves the UI thread time (and the GIL) to handle keys. The last batch
    always goes, also when `source.step()` raises (e.g. NoMoreSteps at the end of a
    trace); the exception then propagates.

    Meanwhile the process's thread switch interval is SWITCH_INTERVAL_SECONDS, so that
    the UI thread gets the GIL soon after a key press.

    NOTE: a full garbage collection still holds the GIL, and its time grows with the
    history. On the default scenario one came about every 700 steps and took 0.4 to 0.6 s
    (3,000 steps, torch 2.13 CPU, loaded 2-core machine), and a key waited that long.
    """
    batch: list[StepRecord] = []
    posted = float("-inf")
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, SWITCH_INTERVAL_SECONDS))
    try:
        while not run.stop.is_set() and (run.target is None
                                         or source.step_count < run.target):
            started = clock()
            batch.append(source.step())
            if clock() - posted >= FRAME_SECONDS and _wait_for_frame(run):
                run.frame_shown.clear()
                post_frame(batch)
                batch, posted = [], clock()
            _pause(run, started, clock)
    finally:
        sys.setswitchinterval(interval)
        if batch:
            post_frame(batch)


def _wait_for_frame(run: Run) -> bool:
    """Wait until the UI has shown the last frame; return False if the run stopped first."""
    while not run.frame_shown.wait(FRAME_SECONDS):
        if run.stop.is_set():
            return False
    return True
def _pause(run: Run, started: float, clock: Callable[[], float]) -> None:
    """Wait out the rest of the step's time at the run's speed, or until it stops."""
    while run.speed is not None and not run.stop.is_set():
        remaining = started + 1 / run.speed - clock()
        if remaining <= 0:
            return
        # Short waits pick up a speed change within a frame.
        run.stop.wait(min(remaining, FRAME_SECONDS))
