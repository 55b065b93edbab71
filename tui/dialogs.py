"""Small modal dialogs: a form base with a one-line error, and a yes/no confirmation.

Every dialog closes without Escape too, by a button or a plain key, because some terminals
and tmux deliver Escape late or merged with the next key. Escape only ever cancels.
"""

from __future__ import annotations

from typing import TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

ResultType = TypeVar("ResultType")


class FormScreen(ModalScreen[ResultType]):
    """A titled box of fields with a one-line error, and OK and Cancel buttons.

    Subclasses yield their fields from `compose_fields` and implement `submit`, which
    either calls `dismiss` with the result or `show_error` and keeps the form open.
    Enter in a field submits; Escape or the Cancel button closes without a result.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="form-cancel")]

    TITLE = ""
    OK_LABEL = "OK"

    def compose(self) -> ComposeResult:
        with Vertical(classes="form") as box:
            box.border_title = self.TITLE
            yield from self.compose_fields()
            yield Static("", classes="form-error")
            with Horizontal(classes="form-buttons"):
                yield Button(self.OK_LABEL, variant="primary", compact=True, id="form-ok")
                yield Button("Cancel", compact=True, id="form-cancel")

    def compose_fields(self) -> ComposeResult:
        """Yield the form's fields."""
        yield from ()

    def submit(self) -> None:
        """Validate the fields; dismiss with the result, or show an error."""
        raise NotImplementedError

    def show_error(self, message: str) -> None:
        """Show `message` on the form's error line, cut to one line."""
        self.query_one(".form-error", Static).update(Text(" ".join(message.split())))

    def clear_error(self) -> None:
        """Empty the error line."""
        self.query_one(".form-error", Static).update("")

    def action_cancel(self) -> None:
        """Close the form without a result."""
        self.dismiss(None)

    @on(Button.Pressed, "#form-ok")
    def _ok_pressed(self) -> None:
        self.submit()

    @on(Button.Pressed, "#form-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def on_input_submitted(self) -> None:
        self.submit()


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: `y` or the first button confirms; `n`, Escape or the second does not.

    Subclasses may bind more keys to `answer(True)` or `answer(False)`.
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm-no"),
    ]

    YES_KEYS_SHOWN = "y"
    """The confirming keys as the yes button names them."""

    def __init__(self, question: str, yes_label: str = "Yes", no_label: str = "No") -> None:
        super().__init__()
        self.question = question
        self.yes_label = yes_label
        self.no_label = no_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="form confirm"):
            yield Static(self.question, classes="confirm-question", markup=False)
            with Horizontal(classes="form-buttons"):
                yield Button(f"{self.yes_label} ({self.YES_KEYS_SHOWN})", variant="error",
                             compact=True, id="confirm-yes")
                yield Button(f"{self.no_label} (n)", variant="primary", compact=True,
                             id="confirm-no")

    def on_mount(self) -> None:
        # Enter on the focused button must not confirm by accident.
        self.query_one("#confirm-no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")


class QuitScreen(ConfirmScreen):
    """Asks before quitting with history; `q` confirms, so pressing `q` twice quits at once."""

    BINDINGS = [Binding("q", "answer(True)", "Quit", id="quit-confirm")]
    YES_KEYS_SHOWN = "y or q"

    def __init__(self, steps: int) -> None:
        plural = "" if steps == 1 else "s"
        super().__init__(f"Quit optimstep? The history of {steps} step{plural} is lost.",
                         "Quit", "Stay")
