"""The results page: machine, versions, command and a table of figures, as Markdown."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from .figures import Figure

BEGIN = "<!-- benchmark results: begin -->"
END = "<!-- benchmark results: end -->"
"""Markers around the generated part of docs/benchmarks.md; `--write` replaces what is between."""

PACKAGES = ("torch", "textual", "rich", "optimstep")


def cpu_model() -> str:
    """Return the CPU's model name from /proc/cpuinfo, or the platform's processor field."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def git_revision() -> str:
    """Return the short commit of the working tree, with `+changes` when it has any."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if dirty.strip() else "")


def environment_lines(command: str, threads: int, load: tuple[float, float, float],
                      elapsed: float) -> list[str]:
    """Return the machine, versions and command lines of the results."""
    versions = ", ".join(f"{name} {_version(name)}" for name in PACKAGES)
    return [
        f"- Machine: {cpu_model()}, {os.cpu_count()} logical CPUs, "
        f"{platform.system()} {platform.release()}; load average {load[0]:.2f} at the start "
        "(other processes shared the CPUs)",
        f"- Versions: Python {platform.python_version()}, {versions}; commit {git_revision()}",
        f"- Command: `{command}` ({threads} torch thread{'s' if threads != 1 else ''}, "
        f"OMP_NUM_THREADS={threads} for the app processes); took {elapsed:.0f} s",
    ]


def figure_rows(figures: Sequence[Figure]) -> list[str]:
    """Return a Markdown table of the figures: median (min–max), baseline, ratio, target."""
    lines = ["| benchmark | figure | measured | baseline | ratio | target | met |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for figure in figures:
        baseline = (f"{figure.baseline.describe()} ({figure.baseline_name})"
                    if figure.baseline else "")
        ratio = f"{figure.ratio:.3g}×" if figure.ratio is not None else ""
        target = figure.target.text if figure.target else ""
        met = {True: "yes", False: "**no**", None: ""}[figure.met]
        lines.append(f"| {figure.group} | {figure.name} | {figure.measured.describe()} | "
                     f"{baseline} | {ratio} | {target} | {met} |")
    return lines


def note_lines(figures: Sequence[Figure]) -> list[str]:
    """Return one bullet per figure with notes, e.g. the number of runs."""
    return [f"- {figure.group}, {figure.name}: {'; '.join(figure.notes)}"
            for figure in figures if figure.notes]


def results_block(figures: Sequence[Figure], command: str, threads: int,
                  load: tuple[float, float, float], elapsed: float) -> str:
    """Return the generated part of the page, between its markers."""
    lines = [BEGIN, "", *environment_lines(command, threads, load, elapsed), "",
             *figure_rows(figures), ""]
    notes = note_lines(figures)
    if notes:
        lines += ["Notes:", "", *notes, ""]
    return "\n".join([*lines, END])


def write_results(path: Path, block: str) -> None:
    """Replace the part of the page at `path` between BEGIN and END with `block`.

    Raise ValueError when the page lacks the markers, so hand-written text is never lost.
    """
    text = path.read_text(encoding="utf-8")
    begin, end = text.find(BEGIN), text.find(END)
    if begin < 0 or end < begin:
        raise ValueError(f"{path} has no {BEGIN!r} ... {END!r} markers to replace "
                         "(add them where the results belong)")
    path.write_text(text[:begin] + block + text[end + len(END):], encoding="utf-8")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def command_line() -> str:
    """Return how this run was started, as one would type it."""
    return " ".join(["python -m benchmarks", *sys.argv[1:]])
