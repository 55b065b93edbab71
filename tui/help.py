"""The help screen: every key of the app, built from the same BINDINGS as the footer."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """A modal table of keys and what they do; `?`, `q` or Escape closes it."""

    BINDINGS = [
        Binding("question_mark,q,escape", "close", "Close help", id="close-help"),
    ]

    def __init__(self, bindings: Iterable[Binding], notes: str = "") -> None:
        super().__init__()
        self.bindings = [*bindings, *self.BINDINGS]
        self.notes = notes

    def compose(self) -> ComposeResult:
        # The keys outgrow a 24-line terminal, so the box scrolls (arrows, Page Up/Down).
        with VerticalScroll(id="help") as help_box:
            help_box.border_title = "Keys"
            yield Static(self._keys_table(), id="help-keys")
            if self.notes:
                yield Static(self.notes, id="help-notes", markup=False)
            yield Static("press ?, q or Escape to close", id="help-hint")

    def action_close(self) -> None:
        """Close the help screen."""
        self.dismiss()

    def _keys_table(self) -> Table:
        table = Table(box=None, header_style="bold", padding=(0, 2, 0, 0), pad_edge=False)
        table.add_column("keys", no_wrap=True)
        table.add_column("action")
        for binding in self.bindings:
            table.add_row(self._keys(binding), binding.description)
        return table

    def _keys(self, binding: Binding) -> str:
        keys = [self.app.get_key_display(Binding(key.strip(), binding.action))
                for key in binding.key.split(",")]
        return ", ".join(keys)
