"""Results of a distributed step: each rank's record and checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..checks import Check
from ..record import StepRecord
from ..trace import record_from_dict


@dataclass(frozen=True)
class RankStep:
    """One rank's step: its StepRecord and the JSON object it came in."""

    rank: int
    record: StepRecord
    """The parameters this rank steps (local shards under FSDP) and all of the rank's checks:
    single-step and carried, then the gradient-averaging audit (`average`) and, except on
    rank 0, agreement with rank 0 (`ranks`)."""
    data: Mapping[str, Any]
    """The record as `optimstep.core.trace.record_to_dict` wrote it."""

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> RankStep:
        """Return the RankStep of a rank's JSON step summary."""
        return cls(summary["rank"], record_from_dict(summary["record"]), summary["record"])

    @property
    def step(self) -> int:
        """Step number t, from 1."""
        return self.record.step

    @property
    def loss(self) -> float:
        """Loss on this rank's own data."""
        return self.record.loss

    @property
    def checks(self) -> tuple[Check, ...]:
        """Every check of this rank."""
        return self.record.checks

    @property
    def passed(self) -> bool:
        """Whether every check of this rank passed."""
        return self.record.passed

    @property
    def failures(self) -> tuple[Check, ...]:
        """This rank's failed checks."""
        return self.record.failures


@dataclass(frozen=True)
class DistributedStep:
    """One step of every rank."""

    step: int
    strategy: str
    ranks: tuple[RankStep, ...]
    """One entry per rank, in rank order."""

    @property
    def world_size(self) -> int:
        """Number of ranks."""
        return len(self.ranks)

    @property
    def loss(self) -> float:
        """Mean of the ranks' losses: the whole batch's loss when shards are equal in size."""
        return sum(rank.loss for rank in self.ranks) / len(self.ranks)

    @property
    def passed(self) -> bool:
        """Whether every check on every rank passed."""
        return all(rank.passed for rank in self.ranks)

    @property
    def failures(self) -> tuple[tuple[int, Check], ...]:
        """(rank, check) of every failed check."""
        return tuple((rank.rank, check) for rank in self.ranks for check in rank.failures)

    def to_dict(self) -> dict[str, Any]:
        """Return the step as one JSON object: every rank's record with its rank added."""
        return {"kind": "distributed_step", "step": self.step, "strategy": self.strategy,
                "world_size": self.world_size, "passed": self.passed,
                "ranks": [dict(rank.data, rank=rank.rank) for rank in self.ranks]}
