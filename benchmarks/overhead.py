"""The cost of a checked step (`optimstep check`) against a bare training loop."""

from __future__ import annotations

import statistics
import time
from typing import Any

from optimstep.core import Stepper
from optimstep.core.allocator import keep_freed_memory
from optimstep.core.export import CheckTally
from optimstep.core.scenario import Built

from .figures import Figure, Sample, Target
from .models import Model

TARGET = Target(1.5, text="≤ 1.5×")
"""A checked step should cost at most 1.5 times the bare step it checks."""


def bare_step(built: Built, index: int) -> float:
    """Take one plain training step: zero_grad, forward, loss, backward, `optimizer.step()`.

    Return the seconds `optimizer.step()` took.
    """
    inputs, targets = built.batches[index % len(built.batches)]
    built.optimizer.zero_grad(set_to_none=True)
    loss = built.loss_fn(built.model(inputs), targets)
    loss.backward()
    started = time.perf_counter()
    built.optimizer.step()
    return time.perf_counter() - started


class RuleClock:
    """Times the reference rule's `run` calls of one stepper, per step."""

    def __init__(self, stepper: Stepper) -> None:
        self.seconds = 0.0
        rule_run = stepper.rule.run

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return rule_run(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        # On this instance only: the stepper calls `self.rule.run`.
        stepper.rule.run = timed  # type: ignore[method-assign]

    def take(self) -> float:
        """Return the seconds counted since the last call, and start again from 0."""
        seconds, self.seconds = self.seconds, 0.0
        return seconds


def check_overhead(model: Model, steps: int, warmup: int = 3) -> Figure:
    """Time `check --quiet`'s work per step against a bare loop on a copy of the same model.

    A checked step is what `optimstep check --quiet` does per step: `Stepper.step()` with no
    history kept (check never goes back), and the tally of checks. As in check, glibc's
    malloc keeps freed memory for reuse (`keep_freed_memory`), here for both loops. The two
    loops alternate step by step, so that both see the same load on a shared machine.
    """
    keep_freed_memory()
    built = model.scenario.build()
    stepper = Stepper.from_scenario(model.scenario, history_mib=0)
    clock = RuleClock(stepper)
    tally = CheckTally()
    bare: list[float] = []
    checked: list[float] = []
    optimizer_steps: list[float] = []
    rule_runs: list[float] = []
    for index in range(warmup + steps):
        started = time.perf_counter()
        optimizer_step = bare_step(built, index)
        middle = time.perf_counter()
        clock.take()
        tally.add(stepper.step())
        ended = time.perf_counter()
        if index >= warmup:
            bare.append(middle - started)
            checked.append(ended - middle)
            optimizer_steps.append(optimizer_step)
            rule_runs.append(clock.take())

    bare_median = statistics.median(bare)
    rule_median = statistics.median(rule_runs)
    notes = (f"{steps} steps after {warmup} warm-up steps; no history kept, as in "
             "`optimstep check`",
             f"medians per step: torch's `optimizer.step()` {_ms(statistics.median(optimizer_steps))} "
             f"of the bare step; the reference rule {_ms(rule_median)} of the checked step, "
             f"so recomputing the update alone makes {(bare_median + rule_median) / bare_median:.2f}×")
    if not tally.passed:
        notes += (f"{tally.failures} check(s) failed",)
    return Figure("check overhead", model.label, Sample(tuple(checked)), Sample(tuple(bare)),
                  "bare loop", TARGET, notes)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"
