"""The Rich report of `check`: one block per step, and a summary of the run."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

from optimstep.core.checks import Check
from optimstep.core.export import CheckTally, describe_failure
from optimstep.core.record import ParamRecord, StepRecord

SUMMARY_ELEMENTS = 6
"""Tensors with more elements than this are summarised instead of printed whole."""

# Significant digits that show each dtype's precision without printing float noise
# (float32 has about 7.2 decimal digits, float16 3.3, bfloat16 2.4).
_DIGITS = {torch.float64: 12, torch.float32: 7, torch.float16: 4, torch.bfloat16: 3,
           torch.complex128: 12, torch.complex64: 7}


def format_number(value: float | complex | int | bool, digits: int = 7) -> str:
    """Return a number with `digits` significant digits, and nan/inf as words."""
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}"


def format_tensor(tensor: torch.Tensor, limit: int = SUMMARY_ELEMENTS) -> str:
    """Return a tensor's values, or for one of more than `limit` elements a summary.

    The summary gives the shape, L2 norm, min, max and the first elements, so a large
    parameter never floods the report.
    """
    digits = _DIGITS.get(tensor.dtype, 7)
    tensor = tensor.detach().cpu()
    if tensor.numel() == 1:
        return format_number(tensor.reshape(()).item(), digits)
    if tensor.numel() <= limit:
        return _nested(tensor.tolist(), digits)
    flat = tensor.reshape(-1)
    wide = flat.to(torch.complex128 if flat.is_complex() else torch.float64)
    parts = [f"shape {list(tensor.shape)}",
             f"norm {format_number(float(torch.linalg.vector_norm(wide)), 4)}"]
    if not flat.is_complex():
        parts += [f"min {format_number(float(wide.min()), digits)}",
                  f"max {format_number(float(wide.max()), digits)}"]
    first = ", ".join(format_number(v, digits) for v in flat[:4].tolist())
    return " · ".join(parts + [f"first [{first}, …]"])


def _nested(value, digits: int) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_nested(item, digits) for item in value) + "]"
    return format_number(value, digits)


def verdict(passed: bool) -> Text:
    """Return PASS or FAIL as a word, coloured where the console has colour."""
    return Text("PASS", style="bold green") if passed else Text("FAIL", style="bold red")


def format_error(value: float) -> str:
    """Return an abs or rel error in compact scientific notation."""
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.2e}"


class StepReport:
    """One step: the values of each parameter, the rule's terms, the updates, the checks.

    With `full`, every check is listed per mode with its tolerance and worst element;
    otherwise both modes of a check share a row.
    """

    def __init__(self, record: StepRecord, full: bool = False) -> None:
        self.record = record
        self.full = full

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        record = self.record
        header = Text.assemble((f"Step {record.step}", "bold"), "  loss ",
                               format_number(record.loss, 7), "  ", verdict(record.passed),
                               f"  ({len(record.checks) - len(record.failures)} of "
                               f"{len(record.checks)} checks passed)")
        yield header
        for param in record.params:
            yield param_table(param)
        yield (full_checks_table if self.full else checks_table)(record.checks)
        yield Text()


def param_table(param: ParamRecord) -> Table:
    """Return a parameter's values, the rule's terms in formula order, and both updates."""
    dtype = str(param.before.dtype).removeprefix("torch.")
    table = Table(title=f"{param.name}  {dtype} {list(param.before.shape)}", title_justify="left",
                  title_style="bold", box=None, show_header=False, pad_edge=False,
                  padding=(0, 1))
    table.add_column("term", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("formula", style="dim", overflow="fold")
    table.add_row("θ before", format_tensor(param.before), "")
    if param.grad is None:
        table.add_row("∇L grad", "None", "skipped: torch leaves the parameter unchanged")
        table.add_row("θ after", format_tensor(param.after), "")
        return table

    table.add_row("∇L grad", format_tensor(param.grad), "")
    for term in param.terms:
        # Most rules open with g = ∇L, and a second row of the same values adds nothing.
        if term.formula == "∇L" and _same(term.value, param.grad):
            continue
        table.add_row(term.symbol, format_tensor(term.value), term.formula)
    if param.computed_update is not None:
        table.add_row("computed update", format_tensor(param.computed_update),
                      "the rule's θ after − θ before")
    table.add_row("actual update", format_tensor(param.actual_update), "torch's θ after − θ before")
    table.add_row("θ after", format_tensor(param.after), "torch")
    return table


def _same(value: torch.Tensor, grad: torch.Tensor) -> bool:
    real = torch.view_as_real(grad) if grad.is_complex() else grad
    return value.shape == real.shape and bool(torch.equal(value, real))


def checks_table(checks: Iterable[Check]) -> Table:
    """Return one row per check name: both modes' results and the larger errors."""
    rows: dict[str, list[Check]] = {}
    for check in checks:
        rows.setdefault(check.name, []).append(check)
    table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold")
    for column in ("check", "single", "carried"):
        table.add_column(column, no_wrap=True)
    for column in ("max abs", "max rel", "max ulp"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, pair in rows.items():
        by_mode = {check.mode: check for check in pair}
        ulps = [check.max_ulp for check in pair]
        table.add_row(
            name,
            *(verdict(by_mode[mode].passed) if mode in by_mode else Text("-")
              for mode in ("single", "carried")),
            format_error(max(check.max_abs_error for check in pair)),
            format_error(max(check.max_rel_error for check in pair)),
            "-1" if min(ulps) < 0 else str(max(ulps)))
    return table


def full_checks_table(checks: Iterable[Check]) -> Group:
    """Return one row per check and mode, with the worst element, detail and tolerance."""
    checks = list(checks)
    table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold")
    for column in ("check", "mode", "result"):
        table.add_column(column, no_wrap=True)
    for column in ("max abs", "max rel", "max ulp"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("worst at", overflow="fold")
    for check in checks:
        worst = str(list(check.worst_index)) if check.worst_index else ""
        table.add_row(check.name, check.mode, verdict(check.passed),
                      format_error(check.max_abs_error), format_error(check.max_rel_error),
                      str(check.max_ulp), " ".join(filter(None, [worst, check.detail])))
    tolerances = dict.fromkeys(f"rtol {c.tolerance.rtol:g}, atol {c.tolerance.atol:g}"
                               for c in checks)
    return Group(table, Text(f"tolerance: {'; '.join(tolerances)}"))


class Summary:
    """The outcome of a run: steps, checks, and each kind of check that failed."""

    def __init__(self, tally: CheckTally, stopped_early: bool = False,
                 error: str | None = None) -> None:
        self.tally = tally
        self.stopped_early = stopped_early
        self.error = error
        """Why the run ended before its last step, e.g. the model raised."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        tally = self.tally
        line = Text.assemble(verdict(tally.passed and self.error is None),
                             f"  {_count(tally.steps, 'step')}, "
                             f"{_count(tally.checks, 'check')}, "
                             f"{tally.failures} failed")
        if self.stopped_early:
            line.append(f"  (stopped at the first failing step, {tally.failed_steps[0]})")
        if self.error is not None:
            line.append(f"  (stopped: {self.error})")
        yield line
        ulps = [kind.max_ulp for kind in tally.kinds.values()]
        if ulps:
            worst_abs = max(kind.max_abs_error for kind in tally.kinds.values())
            worst_ulp = ("none (non-finite values differ)" if min(ulps) < 0
                         else str(max(ulps)))
            yield Text(f"max abs error {format_error(worst_abs)}, max ulp {worst_ulp} "
                       "over all checks")
        if tally.first_nonfinite_loss is not None:
            step, loss = tally.first_nonfinite_loss
            yield Text(f"warning: non-finite loss ({loss}) first at step {step}: checks match "
                       "nan with nan and inf with inf, so they pass on a diverged run",
                       style="yellow")
        if not tally.passed:
            yield failures_table(tally)


def failures_table(tally: CheckTally) -> Group:
    """Return the failing steps, then each failing kind of check with its first failure."""
    lines = [Text(f"Failing steps: {_ranges(tally.failed_steps)}")]
    for kind in tally.kinds.values():
        if kind.first_failure is not None:
            step, check = kind.first_failure
            lines.append(Text.assemble(
                verdict(False), f" {kind.name} ({kind.mode}) on {kind.failures} of "
                f"{kind.steps} steps, first at step {step}: {describe_failure(check)}"))
    return Group(*lines)


def _ranges(steps: list[int]) -> str:
    """Return step numbers as ranges, e.g. `1-3, 7`."""
    spans: list[list[int]] = []
    for step in steps:
        if spans and step == spans[-1][1] + 1:
            spans[-1][1] = step
        else:
            spans.append([step, step])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
