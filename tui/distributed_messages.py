"""Messages the distributed app's driver threads post, each named for what has happened."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from optimstep.core.checks import Check
from optimstep.core.distributed import DistributedStep, RankPhase


@dataclass
class RanksStarted(Message):
    """Every rank built its model and waits for commands."""

    pids: tuple[int, ...]
    """Process ids of the ranks, in rank order."""
    seconds: float
    """Time `start()` took, in seconds."""


@dataclass
class RanksStepped(Message):
    """Every rank finished one step."""

    step: DistributedStep


@dataclass
class StateConsolidated(Message):
    """ZeRO's sharded optimizer state was gathered on rank 0 and checked against each owner's."""

    step: int
    """The step after which the state was gathered."""
    checks: tuple[Check, ...]
    """One `consolidated` check per parameter and state entry."""


@dataclass
class RunStopped(Message):
    """A rank failed or hung, or the run could not go on; every rank process has been ended."""

    error: Exception
    """RankFailed, RankHung, or the unexpected error that stopped the run."""


@dataclass
class RanksClosed(Message):
    """`close()` returned: no rank process is left."""


@dataclass
class PhasesRead(Message):
    """The phase each rank last stored, read while the app waits for the ranks."""

    phases: dict[int, RankPhase]
    """By rank; ranks that stored none yet are left out."""
    pids: tuple[int, ...]
    """Process ids of the ranks started so far."""

    def can_replace(self, message: Message) -> bool:
        # Only the newest phases matter, so an unhandled older read is dropped.
        return isinstance(message, PhasesRead)
