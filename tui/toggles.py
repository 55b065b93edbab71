"""The teaching toggles: a modal of checkboxes, one per variant of the reference rule."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Static

from optimstep.core.rules_teaching import VARIANTS

HINT = "1–4 or Space: toggle · t or Escape: close and apply"
NOTE = ("They change the reference, never torch, so the checks show each mistake's size. "
        "With betas (0.9, 0.99) the bias corrections cancel at step 1: no bias correction "
        "fails from step 2 on.")


class VariantCheckbox(Checkbox):
    """A checkbox drawn as `[x]` or `[ ]`, so it reads without colour (NO_COLOR)."""

    BUTTON_LEFT = "["
    BUTTON_RIGHT = "]"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.BUTTON_INNER = "x" if self.value else " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = "x" if self.value else " "
        super().watch_value()


class TogglesScreen(ModalScreen[frozenset[str]]):
    """Checkboxes for the teaching variants; closing returns the variants that are on.

    `available` maps each variant to None where it applies, or to the reason it does not
    (such a checkbox is disabled).
    """

    BINDINGS = [
        Binding("t,escape", "close", "Close and apply", id="close-toggles"),
        *(Binding(str(n), f"flip({n - 1})", f"Toggle variant {n}", show=False)
          for n in range(1, len(VARIANTS) + 1)),
    ]

    def __init__(self, active: Collection[str], available: Mapping[str, str | None]) -> None:
        super().__init__()
        self.active = frozenset(active)
        self.available = available

    def compose(self) -> ComposeResult:
        with Vertical(id="toggles") as box:
            box.border_title = "Teaching toggles (reference only)"
            for number, (variant, label) in enumerate(VARIANTS.items(), start=1):
                reason = self.available.get(variant)
                text = f"{number}  {label}" + (f"  ({reason})" if reason else "")
                yield VariantCheckbox(text, variant in self.active, id=f"toggle-{variant}",
                                      disabled=reason is not None)
            yield Static(NOTE, id="toggles-note")
            yield Static(HINT, id="toggles-hint")

    def action_flip(self, position: int) -> None:
        """Toggle the checkbox of the variant at `position`, unless it is disabled."""
        variant = list(VARIANTS)[position]
        checkbox = self.query_one(f"#toggle-{variant}", Checkbox)
        if not checkbox.disabled:
            checkbox.toggle()

    def action_close(self) -> None:
        """Close, returning the variants that are checked."""
        self.dismiss(frozenset(variant for variant in VARIANTS
                               if self.query_one(f"#toggle-{variant}", Checkbox).value))
