"""The go-to form: a step number, or +N/-N relative to the current step."""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.widgets import Input, Static

from .dialogs import FormScreen

_STEP = re.compile(r"([+-]?)(\d+)")


def parse_step(text: str, current: int, last: int | None = None) -> int:
    """Return the step that `text` names: `12` is step 12, `+3` and `-3` are relative.

    Raise ValueError naming the input and what is allowed when it is not a whole number,
    goes before step 0, or goes past `last` (the end of a finite source; None: no end).
    """
    entered = text.strip()
    match = _STEP.fullmatch(entered)
    if match is None:
        raise ValueError(f"invalid step: {entered!r} (expected a number such as 12, +3 or -3)")
    sign, digits = match.groups()
    step = int(digits)
    if sign == "+":
        step = current + step
    elif sign == "-":
        step = current - step
    if step < 0:
        raise ValueError(f"invalid step: {entered} (goes to step {step}; step 0 is the first)")
    if last is not None and step > last:
        raise ValueError(f"invalid step: {entered} (goes to step {step}; the trace ends at "
                         f"step {last})")
    return step


class GotoScreen(FormScreen[int]):
    """Asks for a step to go to; returns it, or None when cancelled."""

    TITLE = "Go to step"
    OK_LABEL = "Go"

    def __init__(self, current: int, last: int | None = None) -> None:
        super().__init__()
        self.current = current
        self.last = last
        """The final step of a finite source, such as a trace; None when stepping can go on."""

    def compose_fields(self) -> ComposeResult:
        yield Input(placeholder="12, +3 or -3", compact=True, id="goto-step")
        end = f", last {self.last}" if self.last is not None else ""
        yield Static(f"now at step {self.current}{end}; 0 is before the first step",
                     classes="form-hint")

    def submit(self) -> None:
        """Dismiss with the step entered, or show why it is invalid and stay open."""
        try:
            step = parse_step(self.query_one("#goto-step", Input).value, self.current,
                              self.last)
        except ValueError as error:
            self.show_error(str(error))
            return
        self.dismiss(step)
