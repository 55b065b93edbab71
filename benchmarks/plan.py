"""Benchmark plans: the model sizes and repetitions of a full or a quick run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import models
from .figures import Figure
from .history import history
from .keypress import TARGETS, keypress_latency
from .output import output_bytes
from .overhead import check_overhead
from .startup import startup

GROUPS = ("startup", "keypress", "check", "output", "history")
"""Benchmark names, in the order they run; `--only` takes a comma-separated list of them."""


@dataclass(frozen=True)
class Plan:
    """Sizes and repetitions of one run of the benchmarks."""

    startups: int = 5
    """Start-ups of the app, and as many of the import line."""
    presses: int = 30
    """Key presses on the default scenario."""
    large_presses: int = 10
    """Key presses on the ~1M-parameter model."""
    check_steps: tuple[int, int, int, int] = (200, 50, 30, 15)
    """Checked steps on the default scenario, ~100k, ~1M, and the `large-mlp` preset."""
    output_steps: int = 30
    """Single steps per terminal size."""
    terminal_sizes: tuple[tuple[int, int], ...] = ((80, 24), (200, 50))
    """Terminal sizes (columns, rows) of the output benchmark."""
    history_steps: int = 500
    """Steps before the rewinds."""
    rewinds: int = 3
    """Rewinds of each kind."""
    small: Callable[[], models.Model] = models.small_mlp
    large: Callable[[], models.Model] = models.large_mlp
    preset: Callable[[], models.Model] | None = models.large_preset


FULL = Plan()

QUICK = Plan(startups=1, presses=2, large_presses=1, check_steps=(3, 2, 2, 0), output_steps=2,
             terminal_sizes=((80, 24),), history_steps=6, rewinds=1,
             small=lambda: models.small_mlp(8, 2), large=lambda: models.large_mlp(16, 2),
             preset=None)
"""Tiny sizes and one or two repetitions: checks that every benchmark runs, in seconds."""


def run_group(name: str, plan: Plan, threads: int) -> list[Figure]:
    """Run the benchmark called `name` (one of GROUPS) and return its figures."""
    if name == "startup":
        return startup(plan.startups, threads)
    if name == "keypress":
        return [keypress_latency(models.default(), plan.presses, target=TARGETS["default"]),
                keypress_latency(plan.large(), plan.large_presses, target=TARGETS["large"])]
    if name == "check":
        default_steps, small_steps, large_steps, preset_steps = plan.check_steps
        figures = [check_overhead(models.default(), default_steps),
                   check_overhead(plan.small(), small_steps),
                   check_overhead(plan.large(), large_steps)]
        if plan.preset is not None and preset_steps:
            figures.append(check_overhead(plan.preset(), preset_steps))
        return figures
    if name == "output":
        return output_bytes(plan.output_steps, threads, plan.terminal_sizes)
    if name == "history":
        return history(plan.large(), plan.history_steps, plan.rewinds)
    raise ValueError(f"unknown benchmark: {name!r} (expected one of {', '.join(GROUPS)})")
