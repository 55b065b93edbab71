"""A source of records that replays a trace instead of stepping a live optimizer."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from .record import NoMoreSteps, StepRecord
from .rules import RULES
from .trace import Panels, read_trace


@dataclass(frozen=True)
class TraceRule:
    """The rule of a trace as a replay sees it: its title, panels and reference flavour."""

    title: str
    """Display name of the optimizer, e.g. `Adam`."""
    panels: Panels
    """(title, term names) pairs the UI shows; terms in no panel go under "Other terms"."""
    flavour: str = "torch"
    """Reference flavour the trace was checked against."""


def panels_for(records: Sequence[StepRecord]) -> Panels:
    """Return panels for a trace that stored none: the known rule's, else one of all terms.

    A rule is known when its title matches the trace's optimizer. Its panels keep only the
    terms the trace has, so a panel of terms that a newer rule added does not show empty.
    """
    names = list(dict.fromkeys(term.name for record in records for param in record.params
                               for term in param.terms))
    title = records[0].optimizer if records else ""
    for rule in RULES.values():
        if rule.title == title:
            kept = tuple((panel, tuple(n for n in terms if n in names))
                         for panel, terms in rule.panels)
            return tuple((panel, terms) for panel, terms in kept if terms)
    return (("Terms", tuple(names)),) if names else ()


class TraceSource:
    """Replays recorded steps through the interface of a Stepper.

    `step()` returns the next recorded step and raises NoMoreSteps after the last one.
    `records` contains the steps returned since the start or the last `reset()`, `back` or
    `goto`. Going back and forth costs nothing: every recorded step stays in memory.
    """

    def __init__(self, records: Sequence[StepRecord], name: str = "trace",
                 panels: Panels | None = None) -> None:
        if not records:
            raise ValueError("invalid records: empty (a trace needs at least one step)")
        self.trace = tuple(records)
        """Every recorded step, in order."""
        self.name = name
        self.rule = TraceRule(self.trace[0].optimizer,
                              panels_for(self.trace) if panels is None else panels,
                              self.trace[0].reference)
        self.records: list[StepRecord] = []

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TraceSource:
        """Open a trace file; raise TraceError (one line) if it cannot be read."""
        trace = read_trace(path)
        return cls(trace.records, os.path.basename(os.fspath(path)), trace.panels)

    @property
    def step_count(self) -> int:
        """Steps replayed since the start or the last reset."""
        return len(self.records)

    @property
    def total_steps(self) -> int:
        """Steps the trace holds."""
        return len(self.trace)

    @property
    def reference(self) -> str:
        """Reference flavour the trace was checked against."""
        return self.rule.flavour

    def step(self) -> StepRecord:
        """Return the next recorded step; raise NoMoreSteps after the last one."""
        if self.step_count >= len(self.trace):
            raise NoMoreSteps(f"the trace ends at step {len(self.trace)}")
        record = self.trace[self.step_count]
        self.records.append(record)
        return record

    def run(self, steps: int) -> list[StepRecord]:
        """Replay `steps` steps and return them; raise NoMoreSteps if the trace ends first."""
        return [self.step() for _ in range(steps)]

    def reset(self) -> None:
        """Return to the state before step 1."""
        self.records.clear()

    def back(self, steps: int = 1) -> StepRecord | None:
        """Go back `steps` steps; return the record of the step now current (None at step 0)."""
        if isinstance(steps, bool) or not isinstance(steps, int) or not (
                0 <= steps <= self.step_count):
            raise ValueError(f"invalid number of steps to go back: {steps!r} (expected an "
                             f"integer from 0 to {self.step_count}, the current step)")
        return self.goto(self.step_count - steps)

    def goto(self, step: int) -> StepRecord | None:
        """Move to `step` of the trace; return its record (None for step 0, before step 1)."""
        if isinstance(step, bool) or not isinstance(step, int) or not (
                0 <= step <= len(self.trace)):
            raise ValueError(f"invalid step: {step!r} (expected an integer from 0 to "
                             f"{len(self.trace)}, the last step of the trace)")
        self.records = list(self.trace[:step])
        return self.records[-1] if step else None
