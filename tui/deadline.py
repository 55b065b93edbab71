"""A deadline for each step of a single-process check: a step that hangs stops the run."""

from __future__ import annotations

import queue
import threading
from typing import Any

from optimstep.core import StepRecord


class StepTimeout(Exception):
    """A step's model, loss or optimizer did not return before the deadline."""

    def __init__(self, step: int, seconds: float) -> None:
        self.step = step
        self.seconds = seconds
        super().__init__(f"step {step} timed out after {seconds:g} s (the model, loss or "
                         "optimizer did not return; raise --step-timeout if it is only slow)")


class DeadlineStepper:
    """A stepper whose `step()` runs on a daemon thread and waits at most `seconds` for it.

    Python cannot stop a thread, so a step that times out keeps running until the process
    exits. Being a daemon thread, it does not keep the process alive. The stepper must not
    be used after a timeout, because that step may still change it.
    """

    def __init__(self, stepper: Any, seconds: float) -> None:
        self.stepper = stepper
        self.seconds = seconds
        self._jobs: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="optimstep-step", daemon=True).start()

    def __getattr__(self, name: str) -> Any:
        # Everything but step() comes from the stepper itself: name, rule, step_count.
        return getattr(self.stepper, name)

    def step(self) -> StepRecord:
        """Take one step; raise StepTimeout when it does not return within the deadline."""
        self._jobs.put(None)
        try:
            returned, value = self._results.get(timeout=self.seconds)
        except queue.Empty:
            raise StepTimeout(self.stepper.step_count + 1, self.seconds) from None
        if returned:
            return value
        raise value

    def _serve(self) -> None:
        while True:
            self._jobs.get()
            try:
                self._results.put((True, self.stepper.step()))
            except BaseException as error:  # noqa: BLE001 - handed to the waiting thread
                self._results.put((False, error))
