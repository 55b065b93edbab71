"""Planted faults: a wrong gradient scale on one rank, a rank that raises, a rank that hangs."""

from pathlib import Path

import pytest

from optimstep.core.distributed import DistributedError, DistributedRun, RankFailed, RankHung
from optimstep.core.distributed.faults import FAULT_ENV, Fault

pytestmark = pytest.mark.slow


def rank_alive(pid: int) -> bool:
    """Whether `pid` is still a rank process (and not a later process that reused the id)."""
    try:
        return b"optimstep.core.distributed.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False


def run_with_fault(fault: Fault, steps: int, step_timeout: float):
    """Run the default scenario on two DDP ranks with `fault` planted; return (run, steps, error)."""
    steps_taken, error = [], None
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(FAULT_ENV, fault.spec())
        run = DistributedRun(strategy="ddp", world_size=2, step_timeout=step_timeout)
        try:
            with run:
                for _ in range(steps):
                    steps_taken.append(run.step())
        except DistributedError as raised:
            error = raised
    return run, steps_taken, error


def check(step, rank: int, name: str, mode: str):
    return next(c for c in step.ranks[rank].checks if (c.name, c.mode) == (name, mode))


@pytest.fixture(scope="module")
def scaled():
    """Rank 1's optimizer multiplies every gradient by 2 inside `step()`, from step 1 on."""
    run, steps, error = run_with_fault(Fault("grad_scale", rank=1, step=1), 3, 60)
    assert error is None
    return run, steps


def test_scaled_rank_fails_state_check(scaled):
    _, steps = scaled
    assert not check(steps[0], 1, "weight.exp_avg", "single").passed


def test_scaled_rank_fails_carried_check(scaled):
    _, steps = scaled
    assert not check(steps[0], 1, "weight.exp_avg_sq", "carried").passed


def test_scaled_rank_fails_average_audit(scaled):
    _, steps = scaled
    assert not check(steps[0], 1, "weight.grad", "average").passed


def test_scaled_rank_differs_from_rank0_in_state(scaled):
    _, steps = scaled
    assert not check(steps[0], 1, "weight.exp_avg", "ranks").passed


def test_parameter_comparison_hides_scaled_gradient(scaled):
    # Adam's step is -lr·m̂/(√v̂ + ε). Doubling every gradient doubles m and √v exactly
    # (powers of two), and ε = 1e-8 is below the last bit of √v̂ here, so rank 1 applies the
    # same update as rank 0, bit for bit, on every step: parameters agree across ranks even
    # though rank 1's exp_avg is twice rank 0's. Only the state checks and the audit see it.
    _, steps = scaled
    verdicts = [check(step, 1, f"{name}.param", "ranks").passed
                for step in steps for name in ("weight", "bias")]
    assert verdicts == [True] * 6


def test_scaled_rank_parameters_pass_at_step_1(scaled):
    _, steps = scaled
    assert check(steps[0], 1, "weight.param", "single").passed


def test_unfaulted_rank_passes(scaled):
    _, steps = scaled
    assert [(step.step, c.name, c.mode) for step in steps for c in step.ranks[0].failures] == []


def test_scaled_run_leaves_no_process(scaled):
    run, _ = scaled
    assert [pid for pid in run.pids if rank_alive(pid)] == []


@pytest.fixture(scope="module")
def crashed():
    # The deadline is far away: a crash must be reported by the rank, not found by the deadline.
    run, steps, error = run_with_fault(Fault("raise", rank=1, step=2), 3, 600)
    return run, steps, error


def test_crash_is_reported_as_rank_failure(crashed):
    _, _, error = crashed
    assert isinstance(error, RankFailed)


def test_crash_names_rank_step_and_phase(crashed):
    _, _, error = crashed
    assert (error.rank, error.step, error.phase) == (1, 2, "forward")


def test_crash_carries_traceback(crashed):
    _, _, error = crashed
    assert "RuntimeError: planted fault: rank 1 raised at step 2" in error.traceback


def test_crash_keeps_steps_before_it(crashed):
    _, steps, _ = crashed
    assert [step.step for step in steps] == [1]


def test_crash_leaves_no_process(crashed):
    run, _, _ = crashed
    assert [pid for pid in run.pids if rank_alive(pid)] == []


def test_step_after_crash_is_rejected(crashed):
    run, _, _ = crashed
    with pytest.raises(DistributedError, match="not running"):
        run.step()


@pytest.fixture(scope="module")
def hung():
    run, steps, error = run_with_fault(Fault("hang", rank=1, step=3), 4, 5)
    return run, steps, error


def test_hang_is_found_at_deadline(hung):
    _, _, error = hung
    assert isinstance(error, RankHung)


def test_hang_names_the_step(hung):
    _, _, error = hung
    assert error.step == 3


def test_hang_names_each_rank_phase(hung):
    # Rank 1 sleeps before its forward pass; rank 0 finished its local backward and waits
    # in DDP's allreduce for rank 1's gradients.
    _, _, error = hung
    assert {stuck.rank: stuck.phase for stuck in error.stuck} == {0: "allreduce", 1: "forward"}


def test_hang_dumps_stuck_rank_stack(hung):
    _, _, error = hung
    stack = next(stuck.stack for stuck in error.stuck if stuck.rank == 1)
    assert "in hang" in stack


def test_hang_leaves_no_process(hung):
    run, _, _ = hung
    assert [pid for pid in run.pids if rank_alive(pid)] == []
