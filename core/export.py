"""Outputs of a checked run: atomic file writing, a JUnit XML report and a CSV table."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import stat
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import torch

from .checks import Check
from .record import ParamRecord, StepRecord


def is_stream(path: str | os.PathLike[str]) -> bool:
    """Return whether `path` exists as a device, pipe or socket, e.g. /dev/null or a FIFO."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def check_target(path: str | os.PathLike[str], force: bool = False) -> None:
    """Raise the OSError that writing `path` would meet, before any work is done.

    FileExistsError when the file exists and `force` is false, IsADirectoryError for a
    folder, FileNotFoundError or NotADirectoryError when its folder does not exist. Each
    error's `filename` is `path`. A device or pipe passes, because writing to it replaces
    no file.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "it is a folder", path)
    if is_stream(path):
        return
    if os.path.lexists(path) and not force:
        raise FileExistsError(errno.EEXIST, "the file exists", path)
    folder = os.path.dirname(os.path.realpath(path))
    if not os.path.exists(folder):
        raise FileNotFoundError(errno.ENOENT, f"folder {folder} does not exist", path)
    if not os.path.isdir(folder):
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} is not a folder", path)


@contextlib.contextmanager
def _labelled(path: str) -> Iterator[None]:
    """Re-raise an OSError with `filename` set to `path`, so the message names the output."""
    try:
        yield
    except OSError as error:
        if error.filename == path:
            raise
        raise OSError(error.errno, error.strerror or str(error), path) from error


class AtomicTextFile:
    """The text file `atomic_file` yields; errors of `write` name the target path."""

    def __init__(self, file: TextIO, path: str) -> None:
        self._file = file
        self.path = path
        """The path the file replaces once complete."""

    def write(self, text: str) -> int:
        """Write `text`; an OSError (e.g. a full disk) carries the target path."""
        with _labelled(self.path):
            return self._file.write(text)


def _mode_for(path: str) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], force: bool = False,
                newline: str | None = None) -> Iterator[AtomicTextFile]:
    """Yield a UTF-8 text file that replaces `path` only once the block completes.

    The text goes to a temporary file in the same folder, which is synced and then moved
    over `path` with `os.replace`, so readers see the old file or the whole new one. On any
    error, a full disk included, the temporary file is removed and the error raised. An
    OSError of the file itself has `filename` set to `path`. Without `force` an existing
    file is left alone and FileExistsError is raised.

    A symbolic link stays in place and its target is replaced. A device or pipe (e.g.
    /dev/stdout on a pipe) is written directly, since replacing it would remove the device.
    """
    path = os.fspath(path)
    check_target(path, force)
    if is_stream(path):
        with _labelled(path):
            file = open(path, "w", encoding="utf-8", newline=newline)
        try:
            yield AtomicTextFile(file, path)
        finally:
            with _labelled(path):
                file.close()
        return

    target = os.path.realpath(path)
    with _labelled(path):
        descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(target), suffix=".tmp",
                                                 prefix=f".{os.path.basename(target)}.")
        file = os.fdopen(descriptor, "w", encoding="utf-8", newline=newline)
    try:
        yield AtomicTextFile(file, path)
        with _labelled(path):
            _complete(file, temporary, target, force)
    except BaseException:
        with contextlib.suppress(OSError):
            file.close()
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _complete(file: TextIO, temporary: str, path: str, force: bool) -> None:
    file.flush()
    os.fsync(file.fileno())
    file.close()
    os.chmod(temporary, _mode_for(path))
    # NOTE: a file created at `path` between this test and os.replace is overwritten.
    if not force and os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "the file exists", path)
    os.replace(temporary, path)


# Tally: what JUnit and the summary report about each kind of check over a run.


@dataclass
class CheckKind:
    """One check (name and mode) over every step it ran on."""

    name: str
    """Check name, e.g. `weight.exp_avg`."""
    mode: str
    """`single` or `carried`."""
    steps: int = 0
    """Steps the check ran on."""
    failures: int = 0
    """Steps on which it failed."""
    first_failure: tuple[int, Check] | None = None
    """The first failing step and its check, or None."""
    max_ulp: int = 0
    """Largest ulp distance over the run; -1 once non-finite values disagreed."""
    max_abs_error: float = 0.0
    """Largest abs error over the run."""

    def add(self, step: int, check: Check) -> None:
        """Count one step's result."""
        self.steps += 1
        if not check.passed:
            self.failures += 1
            if self.first_failure is None:
                self.first_failure = (step, check)
        if self.max_ulp >= 0:
            self.max_ulp = -1 if check.max_ulp < 0 else max(self.max_ulp, check.max_ulp)
        self.max_abs_error = max(self.max_abs_error, check.max_abs_error)


@dataclass
class CheckTally:
    """Results of a run, gathered step by step, per kind of check."""

    kinds: dict[tuple[str, str], CheckKind] = field(default_factory=dict)
    """Each kind of check by (name, mode), in the order first seen."""
    steps: int = 0
    """Steps counted."""
    failed_steps: list[int] = field(default_factory=list)
    """Numbers of the steps with a failed check."""
    first_nonfinite_loss: tuple[int, float] | None = None
    """The first step whose loss was nan or ±inf, and that loss; None while all were finite."""

    def add(self, record: StepRecord) -> None:
        """Count one step."""
        self.steps += 1
        if self.first_nonfinite_loss is None and not math.isfinite(record.loss):
            self.first_nonfinite_loss = (record.step, record.loss)
        if not record.passed:
            self.failed_steps.append(record.step)
        for check in record.checks:
            key = (check.name, check.mode)
            if key not in self.kinds:
                self.kinds[key] = CheckKind(check.name, check.mode)
            self.kinds[key].add(record.step, check)

    @property
    def passed(self) -> bool:
        """Whether every counted check passed."""
        return not self.failed_steps

    @property
    def checks(self) -> int:
        """Checks run over all steps."""
        return sum(kind.steps for kind in self.kinds.values())

    @property
    def failures(self) -> int:
        """Failed checks over all steps."""
        return sum(kind.failures for kind in self.kinds.values())


def describe_failure(check: Check) -> str:
    """Return one line on how far a failed check was off, and its tolerance."""
    if check.detail:
        reason = check.detail
    else:
        reason = (f"max abs error {check.max_abs_error:.3g}, max rel error "
                  f"{check.max_rel_error:.3g}, max ulp {check.max_ulp}")
    where = f" at index {list(check.worst_index)}" if check.worst_index else ""
    return (f"{reason}{where} (rtol {check.tolerance.rtol:g}, "
            f"atol {check.tolerance.atol:g})")


def junit_xml(tally: CheckTally, suite: str, properties: Mapping[str, Any] | None = None,
              time: float | None = None, error: str | None = None,
              error_type: str = "UserCodeError") -> str:
    """Return a JUnit XML report with one test case per kind of check (name and mode).

    A failing test case names the first failing step and its errors in the failure's
    `message`, and how many steps failed in its text. `error` (the model, loss or optimizer
    raised and the run stopped) adds a test case `run` with an `error` element.
    """
    tests, errors = str(len(tally.kinds) + (error is not None)), str(int(error is not None))
    root = ET.Element("testsuites", name="optimstep check", tests=tests,
                      failures=str(_failed_kinds(tally)), errors=errors)
    testsuite = ET.SubElement(root, "testsuite", name=suite, tests=tests,
                              failures=str(_failed_kinds(tally)), errors=errors, skipped="0")
    if time is not None:
        root.set("time", f"{time:.3f}")
        testsuite.set("time", f"{time:.3f}")
    if properties:
        props = ET.SubElement(testsuite, "properties")
        for key, value in properties.items():
            ET.SubElement(props, "property", name=str(key), value=str(value))
    for kind in tally.kinds.values():
        case = ET.SubElement(testsuite, "testcase", name=f"{kind.name} ({kind.mode})",
                             classname=f"{suite}.{kind.mode}")
        if kind.first_failure is not None:
            step, check = kind.first_failure
            failure = ET.SubElement(case, "failure", type="CheckFailed",
                                    message=f"step {step}: {describe_failure(check)}")
            failure.text = (f"{kind.name} ({kind.mode}) failed on {kind.failures} of "
                            f"{kind.steps} steps, first at step {step}.")
    if error is not None:
        case = ET.SubElement(testsuite, "testcase", name="run", classname=suite)
        ET.SubElement(case, "error", type=error_type, message=error).text = error
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _failed_kinds(tally: CheckTally) -> int:
    return sum(1 for kind in tally.kinds.values() if kind.failures)


# CSV: one row per step and parameter.

CSV_COLUMNS = (
    "step", "loss", "step_passed", "param", "group", "dtype", "shape", "skipped",
    "before_norm", "grad_norm", "after_norm", "computed_update_norm", "actual_update_norm",
    "checks", "failed_checks", "max_abs_error", "max_rel_error", "max_ulp",
)
"""Columns of the CSV table, in order (docs/check.md describes each)."""


def _norm(tensor: torch.Tensor | None) -> float | str:
    if tensor is None:
        return ""
    wide = torch.complex128 if tensor.is_complex() else torch.float64
    return float(torch.linalg.vector_norm(tensor.detach().to(wide)))


def _param_checks(record: StepRecord, param: ParamRecord) -> list[Check]:
    return [check for check in record.checks if check.name.rpartition(".")[0] == param.name]


def _max_ulp(ulps: list[int]) -> int | str:
    if not ulps:
        return ""
    # -1 marks disagreeing non-finite values, which outrank any finite distance.
    return -1 if min(ulps) < 0 else max(ulps)


def csv_rows(record: StepRecord) -> list[dict[str, Any]]:
    """Return one step's CSV rows, one per parameter, keyed by CSV_COLUMNS."""
    rows = []
    for param in record.params:
        checks = _param_checks(record, param)
        failed = [f"{check.name}/{check.mode}" for check in checks if not check.passed]
        ulps = [check.max_ulp for check in checks]
        rows.append({
            "step": record.step, "loss": record.loss, "step_passed": record.passed,
            "param": param.name, "group": param.group,
            "dtype": str(param.before.dtype).removeprefix("torch."),
            "shape": "x".join(str(size) for size in param.before.shape),
            "skipped": param.skipped,
            "before_norm": _norm(param.before), "grad_norm": _norm(param.grad),
            "after_norm": _norm(param.after),
            "computed_update_norm": _norm(param.computed_update),
            "actual_update_norm": _norm(param.actual_update),
            "checks": len(checks), "failed_checks": ";".join(failed),
            "max_abs_error": max((c.max_abs_error for c in checks), default=""),
            "max_rel_error": max((c.max_rel_error for c in checks), default=""),
            "max_ulp": _max_ulp(ulps),
        })
    return rows

