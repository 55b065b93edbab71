"""Messages the step worker posts to the app, each named for what has happened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from optimstep.core import StepRecord
from optimstep.core.history import HyperparameterEdit

from .panels.base import Start
from .position import Position


@dataclass
class SourceBuilt(Message):
    """The source the app was opened to build is ready, read before any request runs."""

    source: Any
    """The built source, e.g. a Stepper."""
    start: Start
    """Its state before step 1."""


@dataclass
class BuildFailed(Message):
    """Building the source raised; the app exits and the command reports the error."""

    error: Exception
    """The exception the build raised."""


@dataclass
class StepsCompleted(Message):
    """One or more steps finished; the panels show the last record."""

    records: tuple[StepRecord, ...]
    """The new records, in step order."""
    position: Position | None = None
    """The source's position after the last of them, so that the header shows the new step
    and the history it reaches in one redraw. None when the sender did not read it."""


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


@dataclass
class PositionChanged(Message):
    """A request to the source finished; the header shows where the source is now."""

    position: Position
    """The source's step, history and hyper-parameters after the request."""


@dataclass
class HistoryMoved(Message):
    """The source went back or jumped to a step it had reached before."""

    previous: int
    """The step the source was at before the move."""
    record: StepRecord | None
    """The record of the step now current; None at step 0."""


@dataclass
class StepsPlayed(Message):
    """Steps taken by autoplay or a jump since the last frame, one message per frame."""

    records: tuple[StepRecord, ...]
    """The new records, in step order."""
    position: Position
    """The source's position after the last of them."""
    run: int
    """The id of the autoplay or jump that took them."""


@dataclass
class PlayStopped(Message):
    """Autoplay or a jump ended: on request, at its target, or at the source's end."""

    step: int
    """The step the source is at."""
    run: int
    """The id of the autoplay or jump that ended."""


@dataclass
class HyperparametersRead(Message):
    """The current step's hyper-parameters were read, so the edit form can open."""

    step: int
    """The step the edits apply after."""
    groups: tuple[dict, ...]
    """Hyper-parameters of each param group, tensors copied."""
    names: tuple[tuple[str, ...], ...]
    """Names of each group's parameters."""


@dataclass
class HyperparametersEdited(Message):
    """Hyper-parameters changed from the next step on."""

    edits: tuple[HyperparameterEdit, ...]
    """The changes made; empty when every value equalled the current one."""
    discarded: int = 0
    """Steps after the current one that the edit discarded, because they ran with the old
    values."""


@dataclass
class EditRejected(Message):
    """The source rejected an edit; nothing changed."""

    message: str
    """The one-line reason, naming the value and what is allowed."""


@dataclass
class ExportProgressed(Message):
    """Part of an export was written."""

    done: int
    """Steps written so far."""
    total: int
    """Steps to write."""


@dataclass
class TraceExported(Message):
    """An export finished and the file is complete."""

    path: str
    """The file written."""
    steps: int
    """Steps written."""


@dataclass
class ExportFailed(Message):
    """An export could not be written; no file was created or replaced."""

    path: str
    """The file requested."""
    reason: str
    """The one-line reason."""
