"""The distributed app's account of its run: steps, each rank's log, phases and failure."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text

from optimstep.core import Check, StepRecord
from optimstep.core.distributed import DistributedStep, RankFailed, RankHung, RankPhase

from .distributed_failure import failure_title
from .distributed_views import (LogEntry, LogNote, RankRow, consolidated_note, error_note,
                                summary_line)

STARTING, READY, STOPPED, CLOSING, CLOSED = "starting", "ready", "stopped", "closing", "closed"
"""States of the run as the app shows it; STOPPED means a rank failed or hung."""


class RunHistory:
    """The steps, log entries, phases and failure of a run, for the app to show.

    The app updates it from the driver's messages, on its event loop only, so it needs no
    lock. It never calls the run.
    """

    def __init__(self, world_size: int) -> None:
        self.world_size = world_size
        self.steps: list[DistributedStep] = []
        """Every step taken, in order."""
        self.entries: list[list[LogEntry]] = [[] for _ in range(world_size)]
        """Each rank's log: its records, and notes on failures and consolidated checks."""
        self.consolidated: tuple[Check, ...] = ()
        """The latest consolidated checks (ZeRO), or none."""
        self.phases: dict[int, RankPhase] = {}
        """The phase each rank last stored, by rank."""
        self.pids: tuple[int, ...] = ()
        """Process ids of the ranks started so far."""
        self.error: Exception | None = None
        """What stopped the run: RankFailed, RankHung, or an unexpected error."""
        self.target_step = 0
        """The step the requests so far lead to."""
        self.started_at = time.monotonic()

    def record(self, rank: int) -> StepRecord | None:
        """Return rank `rank`'s latest record, or None before step 1."""
        return self.steps[-1].ranks[rank].record if self.steps else None

    def add_step(self, step: DistributedStep) -> None:
        """Add a step of every rank."""
        self.steps.append(step)
        for rank in step.ranks:
            self.entries[rank.rank].append(rank.record)

    def add_consolidated(self, step: int, checks: Sequence[Check]) -> dict[int, LogNote]:
        """Add consolidated checks to the log of the rank that owns each parameter's state.

        Returns the note added per rank.
        """
        self.consolidated = tuple(checks)
        owners = self._owners()
        notes = {}
        for rank in range(self.world_size):
            owned = [check for check in checks
                     if owners.get(check.name.rsplit(".", 1)[0], 0) == rank]
            if owned:
                notes[rank] = consolidated_note(step, owned)
                self.entries[rank].append(notes[rank])
        return notes

    def add_failure(self, error: Exception) -> dict[int, LogNote]:
        """Record what stopped the run and add a note to every rank's log; return the notes.

        The failed or stuck rank's note carries its traceback or stack; the others say
        that they were stopped, and why.
        """
        self.error = error
        step = self.stopped_at()
        notes = {}
        if isinstance(error, RankFailed):
            notes[error.rank] = error_note(step, f"rank {error.rank} in {error.phase}",
                                           error.message, error.traceback)
        elif isinstance(error, RankHung):
            for stuck in error.stuck:
                notes[stuck.rank] = error_note(step, f"rank {stuck.rank} in {stuck.phase}",
                                               f"timed out after {error.timeout:g} s; its stack:",
                                               stuck.stack or "(no stack dump came back)")
        for rank in range(self.world_size):
            notes.setdefault(rank, error_note(step, "stopped", failure_title(error)))
            self.entries[rank].append(notes[rank])
        return notes

    def stopped_at(self) -> int | None:
        """Return the step at which the run stopped, or None while it has not."""
        if self.error is None:
            return None
        return getattr(self.error, "step", len(self.steps) + 1)

    def summary(self) -> Text:
        """Return the summary line across ranks."""
        return summary_line(self.steps, self.world_size, self.consolidated, self.stopped_at())

    def rank_rows(self, run_state: str) -> list[RankRow]:
        """Return a row of the rank table per rank."""
        rows = []
        for rank in range(self.world_size):
            last = self.steps[-1].ranks[rank] if self.steps else None
            rows.append(RankRow(rank, self.pids[rank] if rank < len(self.pids) else None,
                                self._phase_text(rank, run_state), last.step if last else 0,
                                last.loss if last else None, len(last.checks) if last else 0,
                                len(last.failures) if last else 0))
        return rows

    def status_text(self, run_state: str) -> str:
        """Return one line on what the run is doing and what the person can do next."""
        if run_state == STARTING:
            seconds = time.monotonic() - self.started_at
            queued = f"; {self.target_step} steps queued" if self.target_step else ""
            return f"starting {self.world_size} ranks… {seconds:.0f} s (q quits){queued}"
        if run_state == READY and self.target_step > len(self.steps):
            return f"stepping every rank: step {len(self.steps) + 1} of {self.target_step}…"
        if run_state == READY:
            return "ready: n steps every rank; 1-9, [ ] or Tab select a rank; ? help"
        if run_state == STOPPED:
            return (f"{failure_title(self.error)}. Every rank was stopped and stepping is "
                    "disabled: e shows the error, q quits.")
        if run_state == CLOSING:
            return f"stopping {self.world_size} ranks…"
        return "every rank has stopped"

    def _phase_text(self, rank: int, run_state: str) -> str:
        error = self.error
        if isinstance(error, RankFailed) and error.rank == rank:
            return f"failed: {error.phase}"
        if isinstance(error, RankHung):
            stuck = {s.rank: s.phase for s in error.stuck}
            if rank in stuck:
                return f"hung: {stuck[rank]}"
        if run_state in (STOPPED, CLOSED):
            return "stopped"
        phase = self.phases.get(rank)
        if phase is None:
            return "starting" if run_state == STARTING else "—"
        return phase.phase

    def _owners(self) -> dict[str, int]:
        # Under ZeRO each parameter's state lives on the rank whose record lists it.
        if not self.steps:
            return {}
        return {param.name: rank.rank for rank in self.steps[-1].ranks
                for param in rank.record.params}
