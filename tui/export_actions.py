"""Keeping what the app shows: the history as a trace file, a screenshot, the step as text."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import torch
from textual.app import ComposeResult
from textual.widgets import Input, Static

from optimstep.core import StepRecord
from optimstep.core.record import ParamRecord
from optimstep.core.export import atomic_file, check_target
from optimstep.core.trace import Panels, record_to_dict

from .dialogs import ConfirmScreen, FormScreen
from .messages import ExportFailed, ExportProgressed, TraceExported
from .panels import Start, describe_optimizer
from .values import format_tensor_values, format_value

if TYPE_CHECKING:
    from .app import OptimstepApp

logger = logging.getLogger(__name__)

PROGRESS_SECONDS = 2.0
"""Seconds between progress notifications of a long export; a shorter one shows none."""

COPY_ELEMENT_LIMIT = 64
"""Elements of a tensor the copied text lists; larger tensors are summarised."""


def default_trace_path(now: datetime | None = None) -> str:
    """Return a file name in the working folder, as `optimstep-trace-20250101-120000.jsonl`."""
    return f"optimstep-trace-{(now or datetime.now()):%Y%m%d-%H%M%S}.jsonl"


def describe_write_error(error: OSError, path: str) -> str:
    """Return one line on why `path` cannot be written."""
    reason = error.strerror or str(error)
    return f"cannot write {path}: {reason}"


def write_trace(records: Iterable[StepRecord], total: int, path: str, force: bool = False,
                panels: Panels | None = None,
                progress: Callable[[int, int], None] | None = None) -> int:
    """Write records as JSON lines, in the format of `check --json`; return the steps written.

    The file appears only once complete, through `atomic_file`: on any error it is left as
    it was. Without `force`, an existing file raises FileExistsError. `progress(done,
    total)` is called at most once per PROGRESS_SECONDS.
    """
    written = 0
    reported = time.monotonic()
    with atomic_file(path, force=force) as file:
        for record in records:
            file.write(json.dumps(record_to_dict(record, panels)) + "\n")
            written += 1
            if progress is not None and time.monotonic() - reported >= PROGRESS_SECONDS:
                progress(written, total)
                reported = time.monotonic()
    return written


class ExportScreen(FormScreen[tuple[str, bool]]):
    """Asks for the trace file's path; returns (path, overwrite) or None when cancelled.

    A file that exists is replaced only after the user confirms. For a path that cannot be
    written, the form shows why and stays open.
    """

    TITLE = "Export the history as a trace"
    OK_LABEL = "Export"

    def __init__(self, path: str, steps: int) -> None:
        super().__init__()
        self.path = path
        self.steps = steps

    def compose_fields(self) -> ComposeResult:
        yield Input(self.path, compact=True, id="export-path")
        plural = "" if self.steps == 1 else "s"
        yield Static(f"writes steps 1 to {self.steps} ({self.steps} step{plural}) as JSON "
                     "lines, as `check --json` does", classes="form-hint")

    def submit(self) -> None:
        """Dismiss with a writable path, ask before replacing a file, or show an error."""
        path = os.path.expanduser(self.query_one("#export-path", Input).value.strip())
        if not path:
            self.show_error("invalid path: empty (expected a file name, e.g. trace.jsonl)")
            return
        try:
            check_target(path)
        except FileExistsError:
            self.app.push_screen(
                ConfirmScreen(f"{path} exists. Replace it?", "Replace", "Keep"),
                lambda replace: self._after_confirm(path, bool(replace)))
            return
        except OSError as error:
            # The field above shows the path, so the line keeps its room for the reason.
            self.show_error(f"cannot write this path: {error.strerror or error}")
            return
        self.dismiss((path, False))

    def _after_confirm(self, path: str, replace: bool) -> None:
        if replace:
            self.dismiss((path, True))
        else:
            self.show_error("kept the existing file: enter another name")


def record_text(record: StepRecord | None, start: Start) -> str:
    """Write a step's values as plain text: loss, hyper-parameters, and each parameter.

    Numbers are written in full (the shortest text that reads back exactly), tensors of
    more than COPY_ELEMENT_LIMIT elements as shape, norm, min and max.
    """
    if record is None:
        optimizer = describe_optimizer(start.optimizer, start.hyperparameters)
        lines = [f"step 0 (before the first step)  {optimizer}"]
        lines += [f"{name}: {_tensor_text(value)}" for name, value in start.params]
        return "\n".join(lines) + "\n"

    groups = "; ".join(f"group {index} " + " ".join(f"{key}={format_value(value)}"
                                                   for key, value in group.items())
                       for index, group in enumerate(record.hyperparameters))
    lines = [f"step {record.step}  loss {record.loss!r}  reference: {record.reference}",
             f"{record.optimizer}: {groups}"]
    for param in record.params:
        lines += _param_lines(param)
    failed = len(record.failures)
    lines.append(f"checks: {len(record.checks) - failed} passed, {failed} failed")
    return "\n".join(lines) + "\n"


def _param_lines(param: ParamRecord) -> list[str]:
    grad = "None (skipped)" if param.grad is None else _tensor_text(param.grad)
    lines = [f"{param.name} (group {param.group}, {param.before.dtype}):",
             f"  before: {_tensor_text(param.before)}", f"  grad: {grad}",
             f"  after: {_tensor_text(param.after)}"]
    lines += [f"  {key}: {_tensor_text(value)}" for key, value in param.state.items()]
    lines += [f"  {term.name} ({term.symbol}): {_tensor_text(term.value)}"
              for term in param.terms]
    if param.computed_update is not None:
        lines.append(f"  computed update: {_tensor_text(param.computed_update)}")
    lines.append(f"  actual update: {_tensor_text(param.actual_update)}")
    return lines


def _tensor_text(tensor: torch.Tensor) -> str:
    if tensor.numel() <= COPY_ELEMENT_LIMIT:
        return format_tensor_values(tensor)
    values = tensor.detach()
    if values.is_complex():
        values = values.abs()
    values = values.double()
    return (f"shape {list(tensor.shape)}, norm {float(torch.linalg.vector_norm(values))!r}, "
            f"min {float(values.min())!r}, max {float(values.max())!r}")


class ExportActions:
    """The app's keys for keeping what it shows: `x` trace, `s` screenshot, `c` copy.

    This is a mixin of OptimstepApp. It uses the app's source, its queue of requests to
    the stepping thread, and the record shown.
    """

    def action_export(self: OptimstepApp) -> None:
        """Ask for a path, then write the history's records there in the stepping thread.

        The form opens from the stepping thread once earlier requests are done, so that
        it names the steps the export will write.
        """
        self._request(self._open_export)

    def _open_export(self: OptimstepApp) -> None:
        steps = self.source.step_count
        if steps == 0:
            self.notify("nothing to export yet: take a step first", severity="warning")
            return
        self.call_from_thread(lambda: self.push_screen(
            ExportScreen(default_trace_path(), steps), self._export_to))

    def _export_to(self: OptimstepApp, answer: tuple[str, bool] | None) -> None:
        if answer is not None:
            self._request(self._export, *answer)

    def _export(self: OptimstepApp, path: str, force: bool) -> None:
        total = self.source.step_count
        panels = getattr(self.source.rule, "panels", None)
        try:
            # Reading dropped records replays them, which is why this runs in the
            # stepping thread.
            written = write_trace(self.source.records, total, path, force, panels,
                                  lambda done, total: self.post_message(
                                      ExportProgressed(done, total)))
        except OSError as error:
            logger.warning("export to %s failed: %s", path, error)
            self.post_message(ExportFailed(path, describe_write_error(error, path)))
            return
        self.post_message(TraceExported(path, written))

    def on_export_progressed(self: OptimstepApp, message: ExportProgressed) -> None:
        self.notify(f"exporting: {message.done} of {message.total} steps written",
                    markup=False)

    def on_trace_exported(self: OptimstepApp, message: TraceExported) -> None:
        plural = "" if message.steps == 1 else "s"
        self.notify(f"wrote {message.steps} step{plural} to {message.path}", markup=False)

    def on_export_failed(self: OptimstepApp, message: ExportFailed) -> None:
        self.notify(f"export failed, nothing written: {message.reason}", severity="error",
                    markup=False)

    def action_screenshot(self: OptimstepApp) -> None:
        """Save the screen as an SVG file in the working folder."""
        try:
            path = self.save_screenshot()
        except OSError as error:
            self.notify(f"screenshot failed: {error.strerror or error}", severity="error",
                        markup=False)
            return
        self.notify(f"saved a screenshot to {os.path.abspath(path)}", markup=False)

    def action_copy(self: OptimstepApp) -> None:
        """Copy the shown step's values as text to the terminal's clipboard (OSC 52)."""
        if self.still_building():
            return
        record = self.shown_record
        self.copy_to_clipboard(record_text(record, self.start))
        step = record.step if record else 0
        params = len(record.params) if record else len(self.start.params)
        self.notify(f"copied step {step}'s values ({params} parameters) to the clipboard",
                    markup=False)
