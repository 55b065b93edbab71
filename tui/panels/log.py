"""The assertion log: one line per check per step, PASS or FAIL in words."""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import RichLog

from optimstep.core import Check, StepRecord

from .base import HINT
from .format import format_error
from .lines import changed_cells

MAX_LINES = 2000
"""Lines kept; older ones are dropped so a long session costs bounded memory and time."""

_STATUS_STYLES = {"PASS": "bold green", "FAIL": "bold red", "skipped": "yellow",
                  "ERROR": "bold red", "NOTE": "bold", "EDIT": "bold magenta",
                  "BACK": "bold cyan",
                  "JUMP": "bold cyan"}

FAILED_STEPS_SHOWN = 5
"""Failed step numbers a batch summary lists before `…`."""


class AssertionLog(RichLog):
    """The checks of every step, newest last, with status, name, mode and errors.

    The scrollbar shows only while the log is scrolled back from its newest line (class
    `-scrolled`). Lines written while it follows them repaint only the cells that changed.
    """

    # Keys go to the app's bindings, so the arrow keys step instead of scrolling the log.
    can_focus = False

    _repainting_changes = False
    """Set while `_append` writes, which then repaints the changed cells instead of the log."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=MAX_LINES, min_width=1, wrap=False, markup=False,
                         highlight=False, **kwargs)
        self._hidden_lines: list[Text] = []
        self._written: collections.deque[Text] = collections.deque(maxlen=MAX_LINES)
        """Texts written to the log, kept so that a log grown wider can write them again uncut."""
        self._narrowest = 0
        """The narrowest width a line now in the log was written at."""

    def show_start(self) -> None:
        """Clear the log and write what to do before step 1."""
        self.clear()
        self._hidden_lines.clear()
        self._written.clear()
        self._narrowest = 0
        self._append(Text(f"step 0: initial values; {HINT}, f for ten steps, ? for help",
                          style="dim", no_wrap=True, overflow="ellipsis"))

    def show_records(self, records: Iterable[StepRecord]) -> None:
        """Write a line per check and per skipped parameter of each record, in one write."""
        lines = [line for record in records for line in _record_lines(record)]
        if lines:
            self._append(Text("\n", no_wrap=True, overflow="ellipsis").join(lines))

    def show_error(self, step: int, kind: str, message: str) -> None:
        """Write a line for a step that raised instead of returning a record."""
        self._append(_line(step, "ERROR", f"{kind}: {' '.join(message.split())}"))

    def show_note(self, step: int, status: str, text: str) -> None:
        """Write a line that is not a check: an edit or a jump (status EDIT, BACK, JUMP), or a
        change of the reference rule (NOTE)."""
        self._append(_line(step, status, text))

    def show_batch(self, records: Sequence[StepRecord]) -> None:
        """Write one line for many steps, then the failed checks of the latest failing one.

        Autoplay and long jumps take more steps than a screen refresh can show line by line,
        so the log stays bounded per refresh whatever the speed.
        """
        if not records:
            return
        lines = [_batch_line(records)]
        failing = [record for record in records if not record.passed]
        if failing:
            last = failing[-1]
            lines += [_check_line(last.step, check) for check in last.failures]
        self._append(Text("\n", no_wrap=True, overflow="ellipsis").join(lines))

    def render_line(self, y: int) -> Strip:
        # A line's text and the padding after it share one style; as one segment they cost
        # one style code less per line written to the terminal (about 22 bytes).
        return super().render_line(y).simplify()

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> AssertionLog:
        if self._repainting_changes and repaint:
            # RichLog repaints the whole log when a write adds lines or scrolls it. Each
            # step shifts the lines by about as many as it adds, so most cells stay as they
            # were, and `_append` repaints only those that changed.
            self.clear_cached_dimensions()
            return super().refresh(layout=layout, repaint=False, recompose=recompose)
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.set_class(not self.is_vertical_scroll_end, "-scrolled")

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if width and self._narrowest and width > self._narrowest:
            # Lines are cut to the width they were written at: write them again, wider.
            texts = list(self._written)
            self.clear()
            self._written.clear()
            self._narrowest = 0
            self._append(Text("\n", no_wrap=True, overflow="ellipsis").join(texts))
        if width and self._hidden_lines:
            lines, self._hidden_lines = self._hidden_lines, []
            for text in lines:
                self._append(text)

    def _append(self, text: Text) -> None:
        if not self.scrollable_content_region.width:
            # Hidden, e.g. below the app's minimum size: a line written now would be cut to
            # one cell for good, so it waits until the log has a width again.
            self._hidden_lines.append(text)
            return
        width = self.scrollable_content_region.width
        self._written.append(text)
        self._narrowest = min(self._narrowest or width, width)
        before = self._visible_lines()
        self._repainting_changes = True
        try:
            # RichLog scrolls after the next refresh, which paints the log twice. Scrolling
            # at once paints it once.
            self.write(text, scroll_end=False)
            if self.auto_scroll:
                self.scroll_end(animate=False, immediate=True, x_axis=False)
        finally:
            self._repainting_changes = False
        self._refresh_changed(before, self._visible_lines())

    def _visible_lines(self) -> list[Strip]:
        return [self.render_line(y) for y in range(self.scrollable_content_region.height)]

    def _refresh_changed(self, before: list[Strip], after: list[Strip]) -> None:
        if len(before) != len(after):
            self.refresh()
            return
        changed = []
        for y, (line, previous) in enumerate(zip(after, before)):
            start, end = changed_cells(line, previous)
            if end > start:
                changed.append(Region(start, y, end - start, 1))
        if changed:
            self.refresh(*changed)


def _record_lines(record: StepRecord) -> list[Text]:
    lines = [_line(record.step, "skipped", f"{p.name} (grad is None)")
             for p in record.params if p.skipped]
    return lines + [_check_line(record.step, check) for check in record.checks]


def _batch_line(records: Sequence[StepRecord]) -> Text:
    first, last = records[0].step, records[-1].step
    checks = sum(len(record.checks) for record in records)
    failed = [record.step for record in records if not record.passed]
    span = f"steps {first}-{last}" if last > first else f"step {last}"
    if not failed:
        return _line(last, "PASS", f"{span}: all {checks} checks passed")
    listed = ", ".join(str(step) for step in failed[:FAILED_STEPS_SHOWN])
    if len(failed) > FAILED_STEPS_SHOWN:
        listed += ", …"
    failures = sum(len(record.failures) for record in records)
    return _line(last, "FAIL", f"{span}: {len(failed)} of {len(records)} steps failed "
                               f"({listed}), {failures} of {checks} checks")


def _check_line(step: int, check: Check) -> Text:
    ulp = "—" if check.max_ulp < 0 else str(check.max_ulp)
    text = (f"{check.name:<18} {check.mode:<7} abs {format_error(check.max_abs_error):<8} "
            f"rel {format_error(check.max_rel_error):<8} ulp {ulp}")
    if check.detail:
        text += f"  {check.detail}"
    return _line(step, "PASS" if check.passed else "FAIL", text)


def _line(step: int, status: str, text: str) -> Text:
    line = Text(f"{step:>4}  ", no_wrap=True, overflow="ellipsis")
    line.append(f"{status:<7}", style=_STATUS_STYLES[status])
    line.append(f"  {text}")
    return line
