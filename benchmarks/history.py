"""History at about 1M parameters: memory per step within the budget, and rewind times."""

from __future__ import annotations

import time

from optimstep.core import Stepper

from .figures import Figure, Sample, Target
from .models import Model

REWIND_TARGET = Target(1.0, on_ratio=False, text="≤ 1 s")

HISTORY_MIB = 256
"""The Stepper's default history budget."""


def _time_goto(stepper: Stepper, step: int) -> float:
    started = time.perf_counter()
    stepper.goto(step)
    return time.perf_counter() - started


def farthest_from_snapshot(stepper: Stepper) -> int:
    """Return the step that needs the longest replay: the one farthest after its snapshot."""
    snapshots = stepper.history.snapshot_steps
    worst, distance = 1, -1
    for step in range(1, stepper.latest_step + 1):
        nearest = max(s for s in snapshots if s <= step)
        if step - nearest > distance:
            worst, distance = step, step - nearest
    return worst


def history(model: Model, steps: int, repeat: int) -> list[Figure]:
    """Take `steps` steps, then time rewinds to step 1 and to the hardest step to reach.

    Each rewind starts from step `steps`: the jump back there restores its kept snapshot
    without replaying, so the rewinds can be repeated.
    """
    stepper = Stepper.from_scenario(model.scenario, history_mib=HISTORY_MIB)
    started = time.perf_counter()
    for _ in range(steps):
        # Not Stepper.run, whose list of every record would hold them all in memory.
        stepper.step()
    elapsed = time.perf_counter() - started
    history = stepper.history
    memory = [
        Figure("history", f"{model.label}: history after {steps} steps",
               Sample((float(stepper.history_bytes),), "MiB"), Sample((float(stepper.history_budget_bytes),), "MiB"),
               "budget", Target(1.0, text="≤ 1× (within the budget)"),
               (f"{len(history.snapshot_steps)} snapshots, {len(history.record_steps)} records "
                f"kept; {elapsed / steps * 1e3:.0f} ms per step",)),
        Figure("history", f"{model.label}: one step's record",
               Sample((float(history.last_record_bytes),), "MiB"),
               notes=("as the history counts it: storage of its tensors plus a per-tensor "
                      "estimate",)),
        Figure("history", f"{model.label}: one snapshot",
               Sample((float(history.nearest_snapshot(steps).nbytes),), "MiB")),
    ]

    worst = farthest_from_snapshot(stepper)
    to_first, to_worst = [], []
    for _ in range(repeat):
        to_first.append(_time_goto(stepper, 1))
        stepper.goto(steps)
        to_worst.append(_time_goto(stepper, worst))
        stepper.goto(steps)
    replayed = worst - stepper.history.nearest_snapshot(worst).step
    rewinds = [
        Figure("history", f"{model.label}: rewind from step {steps} to step 1",
               Sample(tuple(to_first)), target=REWIND_TARGET, notes=(f"{repeat} rewinds",)),
        Figure("history", f"{model.label}: rewind from step {steps} to step {worst}, the "
               "farthest from a snapshot", Sample(tuple(to_worst)), target=REWIND_TARGET,
               notes=(f"{repeat} rewinds, each replaying {replayed} step(s)",)),
    ]
    return memory + rewinds
