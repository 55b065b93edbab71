"""The cost of a checked step (`optimstep check`) against a bare training loop."""

from __future__ import annotations

import time

from optimstep.core import Stepper
from optimstep.core.allocator import keep_freed_memory
from optimstep.core.export import CheckTally
from optimstep.core.scenario import Built

from .figures import Figure, Sample, Target
from .models import Model

TARGET = Target(1.5, text="≤ 1.5×")
"""A checked step should cost at most 1.5 times the bare step it checks."""


def bare_step(built: Built, index: int) -> None:
    """Take one plain training step: zero_grad, forward, loss, backward, `optimizer.step()`."""
    inputs, targets = built.batches[index % len(built.batches)]
    built.optimizer.zero_grad(set_to_none=True)
    loss = built.loss_fn(built.model(inputs), targets)
    loss.backward()
    built.optimizer.step()


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
    tally = CheckTally()
    bare: list[float] = []
    checked: list[float] = []
    for index in range(warmup + steps):
        started = time.perf_counter()
        bare_step(built, index)
        middle = time.perf_counter()
        tally.add(stepper.step())
        ended = time.perf_counter()
        if index >= warmup:
            bare.append(middle - started)
            checked.append(ended - middle)

    notes = (f"{steps} steps after {warmup} warm-up steps; no history kept, as in "
             "`optimstep check`",)
    if not tally.passed:
        notes += (f"{tally.failures} check(s) failed",)
    return Figure("check overhead", model.label, Sample(tuple(checked)), Sample(tuple(bare)),
                  "bare loop", TARGET, notes)
