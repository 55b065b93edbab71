"""The presentation bar: the step and the loss in large digits, readable across a room."""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Digits, Label

from optimstep.core import StepRecord


def loss_digits(loss: float | None) -> str:
    """Write a loss with the characters `Digits` can draw (E for the exponent, no `nan`)."""
    if loss is None or math.isnan(loss):
        return "-"
    if math.isinf(loss):
        return "-" if loss < 0 else "+"
    if loss != 0 and not 1e-3 <= abs(loss) < 1e5:
        return f"{loss:.3E}"
    return f"{loss:.4f}"


class PresentationBar(Horizontal):
    """Large digits for the step and the loss, and the step's checks in words.

    NOTE: `Digits` draws with box-drawing characters in ASCII mode too.
    """

    def compose(self) -> ComposeResult:
        yield Label("step", classes="presentation-label")
        yield Digits("0", id="presentation-step")
        yield Label("loss", classes="presentation-label")
        yield Digits("-", id="presentation-loss")
        yield Label("", id="presentation-checks")

    def show(self, record: StepRecord | None) -> None:
        """Show `record`'s step, loss and check count, or step 0 before the first step."""
        self.query_one("#presentation-step", Digits).update(str(record.step if record else 0))
        self.query_one("#presentation-loss", Digits).update(
            loss_digits(record.loss if record else None))
        self.query_one("#presentation-checks", Label).update(_checks(record))


def _checks(record: StepRecord | None) -> str:
    if record is None:
        return ""
    failed = len(record.failures)
    if failed:
        return f"FAIL\n{failed} of {len(record.checks)} checks"
    return f"PASS\n{len(record.checks)} checks"
