"""Start-up: from starting `optimstep` to its first frame, against importing its libraries."""

from __future__ import annotations

import subprocess
import sys
import time

from .figures import Figure, Sample, Target
from .terminal import Terminal, optimstep_command, terminal_environment

IMPORT_LINE = "import torch, textual.app, rich"
"""The baseline: what any app built on these libraries spends before it can draw."""

FIRST_FRAME = rb"step 0"
"""Text of the first frame: the header's step counter and the log's first line."""

TARGET = Target(1.2, text="≤ 1.2×")

TIMEOUT_SECONDS = 120


def time_import(env: dict[str, str]) -> float:
    """Return the seconds `python -c IMPORT_LINE` takes from start to exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", IMPORT_LINE], env=env, check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   timeout=TIMEOUT_SECONDS)
    return time.perf_counter() - started


def time_first_frame(env: dict[str, str], columns: int = 80, rows: int = 24) -> float:
    """Return the seconds from starting `optimstep` in a pseudo-terminal to its first frame."""
    with Terminal(optimstep_command(), columns, rows, env) as terminal:
        drawn = terminal.read_until(FIRST_FRAME, TIMEOUT_SECONDS)
        return drawn - terminal.started


def startup(repeat: int, threads: int | None = None) -> Figure:
    """Time `repeat` start-ups of the app and of the import line, alternating the two."""
    env = terminal_environment(threads)
    imports: list[float] = []
    frames: list[float] = []
    for _ in range(repeat):
        imports.append(time_import(env))
        frames.append(time_first_frame(env))
    return Figure("start-up", "`optimstep` to the first frame (default scenario, 80x24)",
                  Sample(tuple(frames), "s"), Sample(tuple(imports), "s"),
                  f"`python -c \"{IMPORT_LINE}\"`", TARGET,
                  (f"{repeat} run(s) of each, alternating",))
