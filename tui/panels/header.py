"""The header: scenario, step, loss, optimizer with hyper-parameters, reference flavour."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text
from textual.reactive import reactive

from .format import format_number
from .lines import LineRefreshWidget

REFERENCES = {"torch": "torch order", "textbook": "textbook"}
"""Header text of each reference flavour."""
SEPARATOR = "  "
CHANGING_FACTS = ("step", "loss", "history")
"""Facts that change on every step, so the header keeps room for the widest each has been."""


class StatusHeader(LineRefreshWidget):
    """One fact per reactive attribute, packed into as few lines as the width allows."""

    # Each change redraws through replace_content, which repaints only the changed lines.
    scenario: reactive[str] = reactive("", repaint=False)
    step: reactive[int] = reactive(0, repaint=False)
    loss: reactive[float | None] = reactive(None, repaint=False)
    optimizer: reactive[str] = reactive("", repaint=False)
    reference: reactive[str] = reactive("torch", repaint=False)
    teaching: reactive[str] = reactive("", repaint=False)
    """Teaching variants of the reference that are on, e.g. `no bias correction`."""
    last: reactive[int | None] = reactive(None, repaint=False)
    """The last step the source can return to without stepping; shown when not current."""
    activity: reactive[str] = reactive("", repaint=False)
    """The stepping that runs on its own, e.g. `▶ 5 steps/s`; empty when none does."""
    history: reactive[str] = reactive("", repaint=False)
    """Memory of the history, e.g. `history 30.1 KiB/256 MiB`; empty without a history."""

    def on_mount(self) -> None:
        self._redraw_pending = False
        self._widest: dict[str, int] = {}
        self._widest_key: tuple[object, ...] = ()
        for name in ("scenario", "step", "loss", "optimizer", "reference", "teaching", "last",
                     "activity", "history"):
            self.watch(self, name, self._request_redraw, init=False)
        self._redraw()

    def _request_redraw(self) -> None:
        # A step changes several facts at once. Redraw once for all of them, because each
        # redraw would write its changed line to the terminal again.
        if not self._redraw_pending:
            self._redraw_pending = True
            self.call_later(self._redraw)

    def _redraw(self) -> None:
        self._redraw_pending = False
        loss = "—" if self.loss is None else format_number(self.loss)
        of_last = f" of {self.last}" if self.last is not None and self.last != self.step else ""
        # The history fits beside the step at 80 columns. Activity comes last, so autoplay
        # starting or stopping changes only the end of the last line.
        facts = {"optimstep": Text("optimstep", style="bold"),
                 "scenario": Text(f"scenario: {self.scenario}"),
                 "step": Text(f"step {self.step}{of_last}", style="bold"),
                 "loss": Text(f"loss {loss}"), "history": Text(self.history),
                 "optimizer": Text(self.optimizer),
                 "reference": Text(f"reference: {REFERENCES.get(self.reference, self.reference)}")}
        if self.teaching:
            facts["teaching"] = Text(f"teaching: {self.teaching}", style="bold reverse")
        facts["activity"] = Text(self.activity, style="bold reverse")
        present = {name: fact for name, fact in facts.items() if fact}
        self.replace_content(FactLines(list(present.values()),
                                       self._widths(present, bool(of_last))))

    def _widths(self, facts: dict[str, Text], of_last: bool) -> list[int]:
        """Return the width each fact takes: its own, or the widest a changing fact has been.

        A loss one digit longer would otherwise move the facts after it, or wrap one to a
        new line and move every panel below the header, which repaints the whole screen.
        The widest widths are forgotten when anything else in the header changes.
        """
        key = (self.content_size.width, *(fact.plain for name, fact in facts.items()
                                          if name not in CHANGING_FACTS), of_last)
        if key != self._widest_key:
            self._widest_key, self._widest = key, {}
        for name in CHANGING_FACTS:
            if name in facts:
                self._widest[name] = max(self._widest.get(name, 0), facts[name].cell_len)
        return [self._widest.get(name, fact.cell_len) for name, fact in facts.items()]


class FactLines:
    """Short texts joined by two spaces, wrapped only between texts, never inside one.

    Each text takes its width from `widths` where given (padded with spaces at its end),
    otherwise its own.
    """

    def __init__(self, facts: Sequence[Text], widths: Sequence[int] | None = None) -> None:
        self.facts = facts
        self.widths = widths if widths is not None else [fact.cell_len for fact in facts]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        line = Text(no_wrap=True, overflow="ellipsis")
        for fact, width in zip(self.facts, self.widths):
            width = max(width, fact.cell_len)
            if line and line.cell_len + len(SEPARATOR) + width > options.max_width:
                yield line
                line = Text(no_wrap=True, overflow="ellipsis")
            if line:
                line.append(SEPARATOR)
            line.append_text(fact)
            line.append(" " * (width - fact.cell_len))
        yield line


def describe_optimizer(title: str, groups: Sequence[Mapping[str, Any]],
                       keys: Sequence[str] | None = None) -> str:
    """Describe an optimizer as `Adam lr=0.1 betas=(0.9, 0.99) eps=1e-08`.

    Shows the first group's `keys` (every key if None). Switches that are off and zero
    values are left out, except the first key (the learning rate in torch's optimizers).
    """
    if not groups:
        return title
    group = groups[0]
    keys = list(keys if keys is not None else group)
    shown = [f"{key}={_value(group[key])}" for index, key in enumerate(keys)
             if key in group and (index == 0 or _is_set(group[key]))]
    others = len(groups) - 1
    more = f" (+{others} more param group{'s' if others > 1 else ''})" if others else ""
    return " ".join([title, *shown]) + more


def _is_set(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.numel() != 1 or value.item() != 0
    return value is not None and value is not False and value != 0


def _value(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return value
