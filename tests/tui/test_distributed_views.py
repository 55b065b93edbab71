"""The distributed app's rank table, summary, log notes and run history, without rank processes.

The ranks' records here are single-process records of the default scenario, split by
parameter the way ZeRO splits them: rank 0 owns the weight, rank 1 the bias.
"""

from __future__ import annotations

import dataclasses
import io

import pytest
import torch
from rich.console import Console

from optimstep.core import Scenario, Stepper, Tolerance, compare
from optimstep.core.distributed import DistributedStep, RankFailed, RankHung, RankStep, StuckRank
from optimstep.tui.distributed_state import CLOSING, READY, STARTING, STOPPED, RunHistory
from optimstep.tui.distributed_views import (MAX_TABLE_ROWS, RankRow, line_count,
                                             newest_entries, rank_table, summary_line)


def render(renderable) -> str:
    console = Console(file=io.StringIO(), width=80, no_color=True, highlight=False)
    console.print(renderable)
    return console.file.getvalue()


def zero_steps(count: int) -> list[DistributedStep]:
    """Return `count` steps of two ranks, rank 0 stepping the weight and rank 1 the bias."""
    steps = []
    for record in Stepper.from_scenario(Scenario()).run(count):
        ranks = tuple(RankStep(rank, _owned(record, name), {})
                      for rank, name in enumerate(("weight", "bias")))
        steps.append(DistributedStep(record.step, "zero", ranks))
    return steps


def _owned(record, name: str):
    checks = tuple(c for c in record.checks if c.name.startswith(f"{name}."))
    return dataclasses.replace(record, params=(record.param(name),), checks=checks)


def failed_check():
    return compare("bias.exp_avg", "single", torch.tensor([1.0]), torch.tensor([2.0]),
                   Tolerance(rtol=0.0, atol=0.0))


def with_failure(step: DistributedStep) -> DistributedStep:
    """Return `step` with one failed check added to rank 1."""
    rank = step.ranks[1]
    record = dataclasses.replace(rank.record, checks=rank.record.checks + (failed_check(),))
    ranks = (step.ranks[0], dataclasses.replace(rank, record=record))
    return dataclasses.replace(step, ranks=ranks)


def test_summary_before_step_1():
    assert summary_line([], 2).plain == "step 0: 2 ranks, no checks yet"


def test_summary_counts_last_step_and_all_steps():
    steps = zero_steps(3)
    assert summary_line(steps, 2).plain == \
        "PASS  step 3: 2 ranks, 16 checks, 0 failed; 3 steps: 48 checks, 0 failed"


def test_summary_fails_on_an_earlier_failed_check():
    steps = zero_steps(2)
    assert summary_line([with_failure(steps[0]), steps[1]], 2).plain.startswith("FAIL  step 2")


def test_summary_counts_consolidated_checks():
    line = summary_line(zero_steps(1), 2, consolidated=(failed_check(),)).plain
    assert line.endswith("consolidated: 1 checks, 1 failed")


def test_summary_of_a_stopped_run_is_an_error():
    line = summary_line(zero_steps(1), 2, stopped_at=2).plain
    assert (line.split()[0], line.split(";")[-1].strip()) == ("ERROR", "stopped at step 2")


def rows(count: int) -> list[RankRow]:
    return [RankRow(rank, 100 + rank, "idle", 1, 0.5, 10, 0) for rank in range(count)]


def test_table_marks_the_selected_rank():
    lines = render(rank_table(rows(2), 1)).splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["1", "▶"]


def test_table_shows_key_of_each_rank():
    lines = render(rank_table(rows(2), 0)).splitlines()
    assert [line.split()[-8] for line in lines[1:]] == ["1", "2"]


def test_table_shows_a_window_around_the_selected_rank():
    lines = render(rank_table(rows(8), 6)).splitlines()
    assert [line.split()[-7] for line in lines[1:]] == [str(rank) for rank in range(3, 8)]


def test_table_window_holds_max_rows():
    assert len(render(rank_table(rows(8), 0)).splitlines()) == MAX_TABLE_ROWS + 1


def test_table_before_start_has_no_pid_or_verdict():
    row = RankRow(0, None, "starting", 0, None, 0, 0)
    assert render(rank_table([row], 0)).splitlines()[1].split()[3:] == \
        ["—", "starting", "0", "—", "—"]


def test_table_counts_failed_checks():
    row = RankRow(0, 100, "idle", 1, 0.5, 10, 3)
    assert render(rank_table([row], 0)).splitlines()[1].split()[-2:] == ["FAIL", "7/10"]


def test_table_fits_80_columns():
    assert max(len(line) for line in render(rank_table(rows(2), 0)).splitlines()) <= 80


def test_history_gives_each_rank_its_own_records():
    history = RunHistory(2)
    for step in zero_steps(2):
        history.add_step(step)
    assert [record.params[0].name for record in history.entries[1]] == ["bias", "bias"]


def test_consolidated_checks_go_to_the_owner():
    history = RunHistory(2)
    history.add_step(zero_steps(1)[0])
    notes = history.add_consolidated(1, (failed_check(),))
    assert list(notes) == [1]


def test_consolidated_note_has_a_line_per_check():
    history = RunHistory(2)
    history.add_step(zero_steps(1)[0])
    notes = history.add_consolidated(1, (failed_check(), failed_check()))
    assert [line.plain.split()[1] for line in notes[1].lines] == ["FAIL"] * 3


def failure() -> RankFailed:
    return RankFailed(1, 2, "forward", "RuntimeError: boom",
                      "Traceback (most recent call last):\nRuntimeError: boom")


def test_failure_note_of_the_failed_rank_ends_with_traceback():
    history = RunHistory(2)
    notes = history.add_failure(failure())
    assert notes[1].lines[-1].plain.strip() == "RuntimeError: boom"


def test_failure_note_of_other_ranks_names_the_cause():
    history = RunHistory(2)
    notes = history.add_failure(failure())
    assert notes[0].lines[0].plain.split(None, 2)[2] == \
        "stopped: rank 1 failed at step 2 in forward"


def test_failure_marks_the_failed_rank_in_the_table():
    history = RunHistory(2)
    history.add_failure(failure())
    assert [row.phase for row in history.rank_rows(STOPPED)] == ["stopped", "failed: forward"]


def test_hang_marks_each_stuck_rank_in_the_table():
    history = RunHistory(2)
    history.add_failure(RankHung(2, 10.0, (StuckRank(1, "allreduce", 10.2, "stack"),)))
    assert [row.phase for row in history.rank_rows(STOPPED)] == ["stopped", "hung: allreduce"]


def test_hang_note_carries_the_stack():
    history = RunHistory(2)
    notes = history.add_failure(RankHung(2, 10.0, (StuckRank(1, "allreduce", 10.2, "frame"),)))
    assert notes[1].lines[-1].plain.strip() == "frame"


def test_failure_stops_at_its_step():
    history = RunHistory(2)
    history.add_failure(failure())
    assert history.stopped_at() == 2


@pytest.mark.parametrize("state, start", [
    (STARTING, "starting 2 ranks…"),
    (READY, "ready: n steps every rank"),
    (STOPPED, "rank 1 failed at step 2 in forward."),
    (CLOSING, "stopping 2 ranks…"),
])
def test_status_text_of_each_state(state, start):
    history = RunHistory(2)
    history.error = failure()
    assert history.status_text(state).startswith(start)


def test_status_text_counts_queued_steps():
    history = RunHistory(2)
    history.target_step = 10
    assert history.status_text(READY) == "stepping every rank: step 1 of 10…"


def test_newest_entries_fit_the_limit():
    records = [step.ranks[0].record for step in zero_steps(10)]
    kept = newest_entries(records, limit=25)
    assert sum(line_count(entry) for entry in kept) <= 25


def test_newest_entries_keep_as_many_as_fit():
    records = [step.ranks[0].record for step in zero_steps(10)]
    kept = newest_entries(records, limit=25)
    assert sum(line_count(entry) for entry in records[-len(kept) - 1:]) > 25


def test_newest_entries_end_with_the_newest():
    records = [step.ranks[0].record for step in zero_steps(10)]
    assert newest_entries(records, limit=25)[-1] is records[-1]
