"""The distributed app's views besides the panels: the rank table, the summary, the log entries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from optimstep.core import Check, StepRecord
from optimstep.core.distributed import DistributedStep

from .panels import AssertionLog
from .panels.format import format_error, format_number
from .panels.lines import LineRefreshWidget
from .panels.log import MAX_LINES

MAX_TABLE_ROWS = 5
"""Ranks listed at once; with more ranks the table shows a window around the selected one."""
RANK_KEYS = 9
"""Ranks that a digit key selects: keys 1 to 9 select ranks 0 to 8."""
TRACE_LINES = 40
"""Last lines of a traceback or stack dump written to a rank's log."""

_STATUS_STYLES = {"PASS": "bold green", "FAIL": "bold red", "ERROR": "bold red"}


@dataclass(frozen=True)
class RankRow:
    """One rank's line in the rank table."""

    rank: int
    pid: int | None
    """Process id, or None before the process has started."""
    phase: str
    """The rank's current phase (`forward`, `idle`, ...) or how it ended (`failed: forward`)."""
    step: int
    """Last step the rank finished (0 before step 1)."""
    loss: float | None
    """Loss on the rank's own data at that step."""
    checks: int
    failed: int


class RankTable(LineRefreshWidget):
    """A line per rank: digit key, rank, pid, phase, last step, loss, PASS or FAIL with counts.

    The selected rank's line starts with `▶` and is shown in reverse, so it reads without
    colour too.
    """

    def show(self, rows: Sequence[RankRow], selected: int) -> None:
        """Show `rows` with rank `selected` marked."""
        self.replace_content(rank_table(rows, selected))


def rank_table(rows: Sequence[RankRow], selected: int) -> RenderableType:
    """Return the table of `rows`, or a window of MAX_TABLE_ROWS rows around `selected`."""
    first = min(max(selected - MAX_TABLE_ROWS // 2, 0), max(len(rows) - MAX_TABLE_ROWS, 0))
    table = Table(box=None, padding=(0, 2, 0, 0), pad_edge=False, header_style="bold")
    for header in ("", "key", "rank", "pid", "phase", "step", "loss", "checks"):
        justify = "right" if header in ("rank", "pid", "step", "loss") else "left"
        table.add_column(header, justify=justify, no_wrap=True, overflow="ellipsis")
    for row in rows[first:first + MAX_TABLE_ROWS]:
        mark = row.rank == selected
        table.add_row("▶" if mark else "", str(row.rank + 1) if row.rank < RANK_KEYS else "",
                      str(row.rank), "—" if row.pid is None else str(row.pid), row.phase,
                      str(row.step), "—" if row.loss is None else format_number(row.loss),
                      _checks_cell(row), style="reverse" if mark else None)
    return table


def _checks_cell(row: RankRow) -> Text:
    if row.checks == 0:
        return Text("—")
    status = "FAIL" if row.failed else "PASS"
    passed = row.checks - row.failed
    return Text.assemble((status, _STATUS_STYLES[status]), f" {passed}/{row.checks}")


def summary_line(steps: Sequence[DistributedStep], world_size: int,
                 consolidated: Sequence[Check] = (), stopped_at: int | None = None) -> Text:
    """Return e.g. `PASS  step 3: 2 ranks, 44 checks, 0 failed; 3 steps: 132 checks, 0 failed`.

    `stopped_at` is the step at which a rank failed or hung: the line then starts with
    ERROR, whatever the checks of the steps before it say.
    """
    parts = [f"step 0: {world_size} ranks, no checks yet"]
    failed = 0
    if steps:
        last = steps[-1]
        checks = sum(len(rank.checks) for rank in last.ranks)
        failed = sum(len(step.failures) for step in steps)
        parts = [f"step {last.step}: {world_size} ranks, {checks} checks, "
                 f"{len(last.failures)} failed"]
        if len(steps) > 1:
            total = sum(len(rank.checks) for step in steps for rank in step.ranks)
            parts.append(f"{len(steps)} steps: {total} checks, {failed} failed")
    if consolidated:
        consolidated_failed = sum(not check.passed for check in consolidated)
        failed += consolidated_failed
        parts.append(f"consolidated: {len(consolidated)} checks, {consolidated_failed} failed")
    if stopped_at is not None:
        status = "ERROR"
        parts.append(f"stopped at step {stopped_at}")
    elif not steps:
        return Text(parts[0], no_wrap=True, overflow="ellipsis")
    else:
        status = "FAIL" if failed else "PASS"
    return Text.assemble((status, _STATUS_STYLES[status]), "  ", "; ".join(parts),
                         no_wrap=True, overflow="ellipsis")


@dataclass(frozen=True)
class LogNote:
    """Lines of a rank's log that are not a record's checks: a failure, or consolidated checks."""

    lines: tuple[Text, ...]

    @property
    def line_count(self) -> int:
        """Lines it takes in the log."""
        return len(self.lines)


LogEntry = StepRecord | LogNote
"""One entry of a rank's log: a step's record, whose checks the log lists, or a note."""


def write_entries(log: AssertionLog, entries: Sequence[LogEntry]) -> None:
    """Write `entries` to `log` after what it shows, the newest MAX_LINES lines at most."""
    records: list[StepRecord] = []
    for entry in newest_entries(entries):
        if isinstance(entry, StepRecord):
            records.append(entry)
            continue
        log.show_records(records)
        records = []
        for line in entry.lines:
            log.write(line)
    log.show_records(records)


def newest_entries(entries: Sequence[LogEntry], limit: int = MAX_LINES) -> Sequence[LogEntry]:
    """Return the newest entries that take at most `limit` lines in the log.

    The log keeps only its newest MAX_LINES lines anyway; writing no more than these keeps
    a switch of rank fast after many steps.
    """
    lines = 0
    for index in range(len(entries) - 1, -1, -1):
        lines += line_count(entries[index])
        if lines > limit:
            return entries[index + 1:]
    return entries


def line_count(entry: LogEntry) -> int:
    """Return the lines an entry takes in the log."""
    if isinstance(entry, LogNote):
        return entry.line_count
    return len(entry.checks) + sum(param.skipped for param in entry.params)


def consolidated_note(step: int, checks: Sequence[Check]) -> LogNote:
    """Return the log lines of consolidated checks, one per check, as the log writes checks."""
    failed = sum(not check.passed for check in checks)
    title = _line(step, "PASS" if not failed else "FAIL",
                  f"consolidated state on rank 0: {len(checks)} checks, {failed} failed")
    return LogNote((title, *(_check_line(step, check) for check in checks)))


def error_note(step: int, what: str, message: str, trace: str = "") -> LogNote:
    """Return an ERROR line, then the last TRACE_LINES lines of a traceback or stack dump."""
    lines = [_line(step, "ERROR", f"{what}: {' '.join(message.split())}")]
    for line in trace.rstrip().splitlines()[-TRACE_LINES:]:
        lines.append(Text(f"      {line}", style="dim", no_wrap=True, overflow="ellipsis"))
    return LogNote(tuple(lines))


def _check_line(step: int, check: Check) -> Text:
    ulp = "—" if check.max_ulp < 0 else str(check.max_ulp)
    text = (f"{check.name:<18} {check.mode} abs {format_error(check.max_abs_error):<8} "
            f"rel {format_error(check.max_rel_error):<8} ulp {ulp}")
    if check.detail:
        text += f"  {check.detail}"
    return _line(step, "PASS" if check.passed else "FAIL", text)


def _line(step: int, status: str, text: str) -> Text:
    # The same columns as the assertion log's lines of a record's checks.
    line = Text(f"{step:>4}  ", no_wrap=True, overflow="ellipsis")
    line.append(f"{status:<7}", style=_STATUS_STYLES[status])
    line.append(f"  {text}")
    return line
