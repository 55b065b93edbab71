"""Errors of a distributed run: a rank that failed or ranks that missed a deadline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class DistributedError(RuntimeError):
    """A distributed run stopped; every rank process has been ended when this is raised."""


class RankFailed(DistributedError):
    """A rank raised an exception or its process exited."""

    def __init__(self, rank: int, step: int, phase: str, message: str, traceback: str,
                 exit_code: int | None = None) -> None:
        self.rank = rank
        """The rank that failed first."""
        self.step = step
        """The step it was taking (0 while setting up)."""
        self.phase = phase
        """The phase it was in, e.g. `forward`."""
        self.message = message
        """The exception, or how the process exited."""
        self.traceback = traceback
        """The formatted traceback, or the end of the process's stderr when it died."""
        self.exit_code = exit_code
        """The process's exit status when it died without reporting, else None."""
        super().__init__(f"rank {rank} failed at step {step} in {phase}: {message}")

    def to_dict(self) -> dict[str, Any]:
        """Return the failure as one JSON object."""
        return {"kind": "rank_failed", "rank": self.rank, "step": self.step, "phase": self.phase,
                "message": self.message, "traceback": self.traceback,
                "exit_code": self.exit_code}


@dataclass(frozen=True)
class StuckRank:
    """A rank that had not finished its step at the deadline."""

    rank: int
    phase: str
    """The phase it was in, e.g. `forward` or `allreduce`."""
    seconds: float
    """How long it had been in that phase, in seconds."""
    stack: str
    """Python stacks of all its threads, dumped by faulthandler; empty if none came back."""


class RankHung(DistributedError):
    """Ranks missed the per-step deadline; `stuck` says where each of them was."""

    def __init__(self, step: int, timeout: float, stuck: tuple[StuckRank, ...]) -> None:
        self.step = step
        """The step the ranks were taking (0 while setting up)."""
        self.timeout = timeout
        """The deadline in seconds."""
        self.stuck = stuck
        """Every rank that had not finished, in rank order."""
        where = "; ".join(f"rank {s.rank} in {s.phase} for {s.seconds:.1f} s" for s in stuck)
        super().__init__(f"step {step} timed out after {timeout:g} s: {where}")

    def to_dict(self) -> dict[str, Any]:
        """Return the timeout as one JSON object."""
        return {"kind": "rank_hung", "step": self.step, "timeout": self.timeout,
                "stuck": [{"rank": s.rank, "phase": s.phase, "seconds": s.seconds,
                           "stack": s.stack} for s in self.stuck]}
