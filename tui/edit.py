"""The edit form: change a param group's hyper-parameters from the next step on."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select, Static

from optimstep.core.hyperparameters import editable_keys

from .dialogs import FormScreen
from .values import format_value

MAX_INPUT_LENGTH = 200
"""Characters a field accepts; a hyper-parameter is a number, a pair or a switch."""

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def parse_value(key: str, text: str, old: Any) -> Any:
    """Read the value typed for `key`, whose current value is `old`.

    Switches (booleans) take true/false, yes/no, on/off or 1/0. Anything else is a Python
    literal: a number, or a tuple such as `0.9, 0.999` (the brackets may be left out).
    Raise ValueError naming the key and the text when it is neither. Ranges are checked
    later, by the Stepper.
    """
    entered = text.strip()
    if isinstance(old, bool):
        if entered.lower() in _TRUE:
            return True
        if entered.lower() in _FALSE:
            return False
        raise ValueError(f"invalid {key}: {entered!r} (expected True or False)")
    try:
        return ast.literal_eval(entered)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    if not isinstance(old, (tuple, list)):
        try:
            # nan and inf are not literals; the Stepper rejects them with its own message.
            return float(entered)
        except ValueError:
            pass
    raise ValueError(f"invalid {key}: {entered!r} (expected a value like the current "
                     f"{format_value(old)})")


def group_label(index: int, names: Sequence[str]) -> str:
    """Name a param group by its index and parameters, as `group 1: layers.0.bias, …`."""
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    return f"group {index}: {shown}" if shown else f"group {index}"


class EditScreen(FormScreen[None]):
    """Edits one param group's hyper-parameters, prefilled with their current values.

    On submit, the changed fields go to `apply(group_index, values)`, which hands them to
    the stepping thread. The app then closes the form, or calls `show_error` with the
    Stepper's reason and the form stays open.
    """

    TITLE = "Edit hyper-parameters"
    OK_LABEL = "Apply"

    def __init__(self, step: int, groups: Sequence[Mapping[str, Any]],
                 names: Sequence[Sequence[str]],
                 apply: Callable[[int, dict[str, Any]], None]) -> None:
        super().__init__()
        self.step = step
        self.groups = groups
        self.names = names
        self.apply = apply
        self.group_index = 0
        self.pending = False
        """Whether an edit was handed over and no result has come back yet."""

    def compose_fields(self) -> ComposeResult:
        if len(self.groups) > 1:
            options = [(group_label(index, self.names[index]), index)
                       for index in range(len(self.groups))]
            yield Select(options, value=0, allow_blank=False, compact=True, id="edit-group")
        with Vertical(id="edit-fields"):
            yield from self._field_rows(0)
        yield Static(f"at step {self.step}; the new values apply from step {self.step + 1}",
                     classes="form-hint")

    def _field_rows(self, index: int) -> list[Horizontal]:
        group = self.groups[index]
        return [Horizontal(Label(key, classes="edit-key"),
                           Input(format_value(group[key]), max_length=MAX_INPUT_LENGTH,
                                 compact=True, id=f"edit-{key}", name=key),
                           classes="edit-row")
                for key in editable_keys(group)]

    @on(Select.Changed, "#edit-group")
    async def _group_changed(self, event: Select.Changed) -> None:
        if not isinstance(event.value, int) or event.value == self.group_index:
            return
        self.group_index = event.value
        self.clear_error()
        fields = self.query_one("#edit-fields", Vertical)
        await fields.remove_children()
        await fields.mount_all(self._field_rows(event.value))

    def changed_values(self) -> dict[str, Any]:
        """Read the fields whose text differs from the current value; raise ValueError."""
        group = self.groups[self.group_index]
        values = {}
        for field in self.query_one("#edit-fields").query(Input):
            key = field.name or ""
            if field.value.strip() != format_value(group[key]):
                values[key] = parse_value(key, field.value, group[key])
        return values

    def submit(self) -> None:
        """Hand the changed values to `apply`, or show why they cannot be read."""
        if self.pending:
            return
        try:
            values = self.changed_values()
        except ValueError as error:
            self.show_error(str(error))
            return
        if not values:
            self.show_error("no value changed: edit a field, or press Escape to close")
            return
        self.clear_error()
        self.pending = True
        self.apply(self.group_index, values)

    def rejected(self, message: str) -> None:
        """Show the reason an edit was rejected and let the user correct it."""
        self.pending = False
        self.show_error(message)
