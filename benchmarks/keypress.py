"""Key press to updated panels: from pressing `n` in the app until the new step is drawn."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from optimstep.core import Stepper

from .figures import Figure, Sample, Target
from .models import Model

TARGETS = {"default": Target(0.016, on_ratio=False, text="≤ 16 ms"),
           "large": Target(0.100, on_ratio=False, text="≤ 100 ms")}
"""Median latency each model should stay within, in seconds."""

SIZE = (80, 24)

TIMEOUT_SECONDS = 60.0


class FrameClock:
    """Times when the app shows a record and when a frame with it reaches the terminal.

    It wraps, on this one app instance, `_show` (which updates the panels), the header's
    `_redraw` (deferred to the next message) and `_display` (which writes a frame). In the
    headless driver `_display` writes nothing, so the wrapper renders the frame to the
    terminal's escape sequences itself, the work a real terminal's frame costs.
    """

    def __init__(self, app: Any) -> None:
        from optimstep.tui.panels import StatusHeader

        self.app = app
        self.header = app.query_one(StatusHeader)
        self.shown: dict[int, float] = {}
        self.redrawn: dict[int, float] = {}
        self.frames: list[float] = []
        self._wrap(app, "_show", self._after_show)
        self._wrap(self.header, "_redraw", self._after_redraw)
        display = app._display

        def timed_display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if renderable is not None:
                render = getattr(renderable, "render_segments", None)
                if render is not None:
                    render(app.console)
                self.frames.append(time.perf_counter())

        app._display = timed_display

    @staticmethod
    def _wrap(owner: Any, name: str, after: Any) -> None:
        original = getattr(owner, name)

        def wrapped(*args: Any) -> Any:
            result = original(*args)
            after(*args)
            return result

        setattr(owner, name, wrapped)

    def _after_show(self, record: Any) -> None:
        self.shown[record.step if record is not None else 0] = time.perf_counter()

    def _after_redraw(self) -> None:
        self.redrawn[self.header.step] = time.perf_counter()

    async def wait_for_step(self, step: int, timeout: float) -> float:
        """Wait until a frame shows `step` in the panels and the header; return its time."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if step in self.shown and step in self.redrawn:
                ready = max(self.shown[step], self.redrawn[step])
                later = [frame for frame in self.frames if frame >= ready]
                if later:
                    return later[0]
            await asyncio.sleep(0.0005)
        raise TimeoutError(f"step {step} was not drawn within {timeout} s")


async def _latencies(stepper: Stepper, presses: int, warmup: int) -> list[float]:
    from optimstep.tui.app import OptimstepApp

    app = OptimstepApp(stepper)
    latencies: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        clock = FrameClock(app)
        for index in range(warmup + presses):
            started = time.perf_counter()
            await pilot.press("n")
            drawn = await clock.wait_for_step(index + 1, TIMEOUT_SECONDS)
            if index >= warmup:
                latencies.append(drawn - started)
            await pilot.pause()
    return latencies


def keypress_latency(model: Model, presses: int, warmup: int = 1,
                     target: Target | None = None) -> Figure:
    """Press `n` `presses` times after `warmup` presses; time each until its step is drawn."""
    stepper = Stepper.from_scenario(model.scenario)
    latencies = asyncio.run(_latencies(stepper, presses, warmup))
    return Figure("key press to panels", f"{model.label}, {SIZE[0]}x{SIZE[1]}",
                  Sample(tuple(latencies)), target=target,
                  notes=(f"{presses} presses of n after {warmup} warm-up press(es)",))
