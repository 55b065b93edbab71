"""Bytes the app writes to a real pseudo-terminal per step, single steps and autoplay."""

from __future__ import annotations

import re

from .figures import Figure, Sample, Target
from .startup import READY
from .terminal import TERM, Terminal, optimstep_command, terminal_environment

TARGET = Target(2048, on_ratio=False, text="≤ 2 KiB at 80x24")

QUIET_SECONDS = 0.3
"""A step's output is complete once the app wrote nothing for this long."""

FIRST_FRAME_TIMEOUT_SECONDS = 120

AUTOPLAY_SECONDS = 3.0
"""How long autoplay runs in the autoplay measurement."""

LOG_STEP = re.compile(rb"(\d+)  (?:\x1b\[[0-9;]*m)*(?:PASS|FAIL)")
"""A line of the assertion log: the step number, then PASS or FAIL after style codes."""

LOG_STEP_REPAINT = re.compile(rb"\x1b\[\d+;1H(?:\x1b\[[0-9;]*m)*\s*(\d+)(?=\s|\x1b|$)")
"""A line of the assertion log of which only the start changed. The app moves the cursor
to the first column and writes the new step number, but not what follows when that is as
it was (e.g. `PASS     bias.param`). In the layout measured here, no other row has a digit
in its first column."""


def has_autoplay() -> bool:
    """Return whether this build of the app binds a key to autoplay."""
    from optimstep.tui.app import OptimstepApp

    return any(getattr(binding, "action", "") == "autoplay" for binding in OptimstepApp.BINDINGS)


def last_logged_step(output: bytes) -> int | None:
    """Return the highest step number the assertion log wrote in `output`, or None."""
    steps = [int(match.group(1)) for pattern in (LOG_STEP, LOG_STEP_REPAINT)
             for match in pattern.finditer(output)]
    return max(steps) if steps else None


def single_steps(columns: int, rows: int, steps: int, threads: int | None) -> Figure:
    """Press `n` `steps` times in a terminal of `columns` x `rows`; count bytes per step.

    Step 1 also replaces the "press n to step" hints with the panels' tables, so it is
    measured apart from the steady state of steps 2 on.
    """
    with Terminal(optimstep_command(), columns, rows, terminal_environment(threads)) as terminal:
        # A step requested while the optimizer is built runs only once it is built.
        terminal.read_until(READY, FIRST_FRAME_TIMEOUT_SECONDS)
        terminal.read_until_quiet(QUIET_SECONDS, 30)
        first_frame = len(terminal.output)
        start = len(terminal.output)
        counts = []
        for _ in range(steps):
            terminal.send(b"n")
            counts.append(len(terminal.read_until_quiet(QUIET_SECONDS, 30)))
        logged_step = last_logged_step(bytes(terminal.output[start:]))
    notes = (f"TERM={TERM}; frames until ready {first_frame:,} B; step 1 {counts[0]:,} B; "
             f"steps 2 to {steps} below",)
    if logged_step != steps:
        notes += (f"the log's last step read {logged_step}, not {steps}: steps were lost or the log "
                  "was not on the screen",)
    return Figure("terminal output", f"single steps, {columns}x{rows}",
                  Sample(tuple(float(count) for count in counts[1:]), "B"),
                  target=TARGET if (columns, rows) == (80, 24) else None, notes=notes)


def autoplay(columns: int, rows: int, threads: int | None) -> Figure:
    """Run autoplay (`p`) for AUTOPLAY_SECONDS at its default speed; count bytes per step."""
    with Terminal(optimstep_command(), columns, rows, terminal_environment(threads)) as terminal:
        terminal.read_until(READY, FIRST_FRAME_TIMEOUT_SECONDS)
        terminal.read_until_quiet(QUIET_SECONDS, 30)
        terminal.send(b"n")
        terminal.read_until_quiet(QUIET_SECONDS, 30)
        start = len(terminal.output)
        terminal.send(b"p")
        terminal.read(AUTOPLAY_SECONDS)
        terminal.send(b"p")
        terminal.read_until_quiet(QUIET_SECONDS, 30)
        output = bytes(terminal.output[start:])
    steps = (last_logged_step(output) or 1) - 1
    per_step = len(output) / steps if steps else float(len(output))
    return Figure("terminal output", f"autoplay, {columns}x{rows}", Sample((per_step,), "B"),
                  target=TARGET if (columns, rows) == (80, 24) else None,
                  notes=(f"{steps} steps in {AUTOPLAY_SECONDS:g} s at the default speed, "
                         f"{len(output):,} B in all",))


def output_bytes(steps: int, threads: int | None,
                 sizes: tuple[tuple[int, int], ...] = ((80, 24), (200, 50))) -> list[Figure]:
    """Measure single steps at each size, and autoplay where the app has it."""
    figures = [single_steps(columns, rows, steps, threads) for columns, rows in sizes]
    if has_autoplay():
        figures += [autoplay(columns, rows, threads) for columns, rows in sizes]
    return figures
