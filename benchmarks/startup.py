"""Start-up: from starting `optimstep` to its first frame and to its first frame with the
built optimizer, against importing its libraries."""

from __future__ import annotations

import re
import subprocess
import sys
import time

from .figures import Figure, Sample, Target
from .terminal import Terminal, optimstep_command, terminal_environment

IMPORT_LINE = "import torch, textual.app, rich"
"""The baseline: what any app built on these libraries spends before it can draw."""

EXIT_AT_ONCE = "; import os; os._exit(0)"
"""Appended to IMPORT_LINE to time the imports without Python's exit, which after these
imports took about 0.3 s on a shared 2-core AMD EPYC."""

FIRST_FRAME = rb"step 0"
"""Text of the first frame: the header's step counter."""

READY = rb"initial values"
"""Text of the first frame that shows the built optimizer: the log's first line, which
replaces "building Adam…" once the optimizer is built."""

TARGET = Target(1.2, text="≤ 1.2×")

TIMEOUT_SECONDS = 120


def time_import(env: dict[str, str], code: str = IMPORT_LINE) -> float:
    """Return the seconds `python -c code` takes from start to exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   timeout=TIMEOUT_SECONDS)
    return time.perf_counter() - started


def time_start(env: dict[str, str], columns: int = 80, rows: int = 24) -> tuple[float, float]:
    """Return the seconds from starting `optimstep` in a pseudo-terminal to its first frame,
    and to its first frame with the built optimizer (the same when one frame shows both)."""
    with Terminal(optimstep_command(), columns, rows, env) as terminal:
        drawn = terminal.read_until(FIRST_FRAME, TIMEOUT_SECONDS)
        if re.search(READY, terminal.output):
            ready = drawn
        else:
            ready = terminal.read_until(READY, TIMEOUT_SECONDS)
        return drawn - terminal.started, ready - terminal.started


def startup(repeat: int, threads: int | None = None) -> list[Figure]:
    """Time `repeat` start-ups of the app and of the import line, alternating the two.

    Return two figures against the same import times: to the first frame, and to the
    first frame with the built optimizer. Their notes also give the ratios against the
    imports without Python's exit.
    """
    env = terminal_environment(threads)
    imports: list[float] = []
    imports_only: list[float] = []
    frames: list[float] = []
    readies: list[float] = []
    for _ in range(repeat):
        imports.append(time_import(env))
        imports_only.append(time_import(env, IMPORT_LINE + EXIT_AT_ONCE))
        frame, ready = time_start(env)
        frames.append(frame)
        readies.append(ready)
    baseline = Sample(tuple(imports), "s")
    baseline_name = f"`python -c \"{IMPORT_LINE}\"`"
    without_exit = Sample(tuple(imports_only), "s")
    runs = f"{repeat} run(s) of each, alternating"

    def exit_note(measured: Sample) -> str:
        return (f"the baseline includes Python's exit. The imports alone (`os._exit(0)` after "
                f"them) took {without_exit.describe()}, and against them this figure is "
                f"{measured.median / without_exit.median:.3g}×")

    frame_sample, ready_sample = Sample(tuple(frames), "s"), Sample(tuple(readies), "s")
    return [
        Figure("start-up", "`optimstep` to the first frame (default scenario, 80x24)",
               frame_sample, baseline, baseline_name, TARGET,
               (runs, "first frame: the header's `step 0`, drawn while the optimizer is built",
                exit_note(frame_sample))),
        Figure("start-up", "`optimstep` to ready (default scenario, 80x24)",
               ready_sample, baseline, baseline_name, None,
               (runs, "ready: the first frame with the built optimizer, whose log reads "
                      "`step 0: initial values`; for information, with no target",
                exit_note(ready_sample))),
    ]
