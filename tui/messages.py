"""Messages the step worker posts to the app, each named for what has happened."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from optimstep.core import StepRecord


@dataclass
class StepsCompleted(Message):
    """One or more steps finished; the panels show the last record."""

    records: tuple[StepRecord, ...]
    """The new records, in step order."""


@dataclass
class StepFailed(Message):
    """The source raised while taking a step; the app stays usable."""

    step: int
    """The step number that was attempted."""
    kind: str
    """The exception's type name, e.g. `RuntimeError`."""
    message: str
    """The exception's message."""


@dataclass
class SourceExhausted(Message):
    """The source has no further step (e.g. the end of a trace)."""

    steps: int
    """Steps taken so far."""


@dataclass
class SourceReset(Message):
    """The source went back to its state before step 1."""
