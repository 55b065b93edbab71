"""The modal that shows why a distributed run stopped: a traceback, or each stuck rank's stack."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from optimstep.core.distributed import RankFailed, RankHung

from .distributed import failure_report


def failure_title(error: Exception) -> str:
    """Return one line on why the run stopped, e.g. `rank 1 failed at step 2 in forward`."""
    if isinstance(error, RankFailed):
        return f"rank {error.rank} failed at step {error.step} in {error.phase}"
    if isinstance(error, RankHung):
        where = ", ".join(f"rank {stuck.rank} in {stuck.phase}" for stuck in error.stuck)
        return f"step {error.step} timed out after {error.timeout:g} s: {where}"
    return f"the run stopped: {type(error).__name__}: {error}"


class FailureScreen(ModalScreen[None]):
    """The failed rank's traceback, or every stuck rank's phase and stack; the app stays open.

    The arrow keys and Page Up/Down scroll; Escape, Enter, `e` or `q` close it.
    """

    BINDINGS = [
        Binding("escape,enter,e,q", "close", "Close", id="close-error"),
    ]

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="failure") as box:
            box.border_title = "The run stopped"
            with VerticalScroll(id="failure-text"):
                yield Static(failure_report(self.error), id="failure-report")
            yield Static("every rank process was ended; Escape closes this, q then quits",
                         id="failure-hint")

    def on_mount(self) -> None:
        self.query_one("#failure-text").focus()

    def action_close(self) -> None:
        """Close the modal."""
        self.dismiss()
