"""Reading each rank's phase and interrupting a run from another thread, as the app does."""

import threading
import time
from pathlib import Path

import pytest

from optimstep.core.distributed import DistributedError, DistributedRun, RankFailed
from optimstep.core.distributed.faults import FAULT_ENV, Fault

pytestmark = pytest.mark.slow

WAIT_SECONDS = 120.0
"""Seconds the test waits for a phase or a thread before it fails."""


def rank_alive(pid: int) -> bool:
    """Whether `pid` is still a rank process (and not a later process that reused the id)."""
    try:
        return b"optimstep.core.distributed.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False


def step_in_thread(run: DistributedRun, errors: list) -> threading.Thread:
    def take_step() -> None:
        try:
            run.step()
        except DistributedError as error:
            errors.append(error)
    thread = threading.Thread(target=take_step)
    thread.start()
    return thread


def wait_for_phase(run: DistributedRun, rank: int, step: int) -> dict:
    deadline = time.monotonic() + WAIT_SECONDS
    while (phases := run.phases()).get(rank) is None or phases[rank].step != step:
        assert time.monotonic() < deadline, f"rank {rank} never reached step {step}"
        time.sleep(0.02)
    return phases


@pytest.fixture(scope="module")
def interrupted():
    """Rank 1 hangs at step 2 of a DDP run with a 600 s deadline; another thread interrupts."""
    seen, errors = {}, []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(FAULT_ENV, Fault("hang", rank=1, step=2).spec())
        run = DistributedRun(strategy="ddp", world_size=2, step_timeout=600)
        seen["before start"] = run.phases()
        try:
            run.start()
            seen["after start"] = run.phases()
            run.step()
            seen["after step 1"] = run.phases()
            thread = step_in_thread(run, errors)
            seen["hanging"] = wait_for_phase(run, 1, 2)
            run.interrupt()
            thread.join(WAIT_SECONDS)
            seen["after interrupt"] = run.phases()
        finally:
            run.close()
    seen["errors"] = errors
    seen["alive"] = [pid for pid in run.pids if rank_alive(pid)]
    return seen


def test_phases_are_empty_before_start(interrupted):
    assert interrupted["before start"] == {}


def test_ranks_are_idle_after_start(interrupted):
    assert [(p.rank, p.phase, p.step) for p in interrupted["after start"].values()] == \
        [(0, "idle", 0), (1, "idle", 0)]


def test_ranks_are_idle_after_a_step(interrupted):
    assert [(p.phase, p.step) for p in interrupted["after step 1"].values()] == [("idle", 1)] * 2


def test_hanging_rank_is_seen_in_forward(interrupted):
    assert interrupted["hanging"][1].phase == "forward"


def test_interrupt_ends_the_step_with_rank_failed(interrupted):
    assert [type(error) for error in interrupted["errors"]] == [RankFailed]


def test_phases_are_empty_once_stopped(interrupted):
    assert interrupted["after interrupt"] == {}


def test_interrupt_leaves_no_rank_process(interrupted):
    assert interrupted["alive"] == []
