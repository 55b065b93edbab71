"""DDP, ZeRO and FSDP2 on two local ranks: every check passes and covers every parameter."""

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from optimstep.core import Stepper
from optimstep.core.distributed import DistributedRun, DistributedStep, ShardedScenario

pytestmark = pytest.mark.slow

STEPS = 3
CASES = [(strategy, model) for strategy in ("ddp", "zero", "fsdp")
         for model in ("scenario", "mlp")]


@dataclass
class Finished:
    strategy: str
    scenario: ShardedScenario
    steps: list[DistributedStep]
    consolidated: tuple
    pids: tuple[int, ...]

    @property
    def param_names(self) -> list[str]:
        return [name for name, _ in self.scenario.build_model().named_parameters()]


def rank_alive(pid: int) -> bool:
    """Whether `pid` is still a rank process (and not a later process that reused the id)."""
    try:
        return b"optimstep.core.distributed.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.fixture(scope="module", params=CASES, ids=lambda case: f"{case[0]}-{case[1]}")
def finished(request) -> Finished:
    strategy, model = request.param
    scenario = ShardedScenario(model=model)
    with DistributedRun(scenario, strategy=strategy, world_size=2) as run:
        steps = run.run(STEPS)
        consolidated = run.consolidate() if strategy == "zero" else ()
    return Finished(strategy, scenario, steps, consolidated, run.pids)


def test_every_check_passes(finished):
    failures = [(step.step, rank, check.name, check.mode)
                for step in finished.steps for rank, check in step.failures]
    assert failures == []


def test_steps_are_numbered_on_every_rank(finished):
    assert [[rank.step for rank in step.ranks] for step in finished.steps] == [[1, 1], [2, 2],
                                                                               [3, 3]]


def test_every_rank_audits_every_gradient(finished):
    for rank in finished.steps[0].ranks:
        audited = [check.name for check in rank.checks if check.mode == "average"]
        assert audited == [f"{name}.grad" for name in finished.param_names]


def test_replicas_compared_with_rank0(finished):
    compared = {check.name for check in finished.steps[0].ranks[1].checks
                if check.mode == "ranks" and check.name.endswith(".param")}
    expected = set() if finished.strategy == "fsdp" else {f"{n}.param" for n in finished.param_names}
    assert compared == expected


def test_ddp_ranks_compare_optimizer_state(finished):
    compared = {check.name for check in finished.steps[0].ranks[1].checks
                if check.mode == "ranks" and check.name.endswith(".exp_avg")}
    expected = {f"{n}.exp_avg" for n in finished.param_names} if finished.strategy == "ddp" \
        else set()
    assert compared == expected


def test_each_parameter_stepped_by_the_expected_ranks(finished):
    stepped = [[param.name for param in rank.record.params] for rank in finished.steps[0].ranks]
    if finished.strategy == "zero":
        # ZeRO: each parameter has exactly one owner.
        assert sorted(stepped[0] + stepped[1]) == sorted(finished.param_names)
    else:
        assert stepped == [finished.param_names, finished.param_names]


def test_reference_checks_cover_stepped_parameters(finished):
    for rank in finished.steps[0].ranks:
        checked = {check.name for check in rank.checks if check.mode == "single"}
        expected = {f"{param.name}.{key}" for param in rank.record.params
                    for key in ("param", "step", "exp_avg", "exp_avg_sq")}
        assert checked == expected


def test_loss_matches_single_process_on_whole_batch(finished):
    model = finished.scenario.build_model()
    shards = [finished.scenario.rank_batches(rank, 2)[0] for rank in range(2)]
    batch = (torch.cat([x for x, _ in shards]), torch.cat([y for _, y in shards]))
    stepper = Stepper(model, finished.scenario.scenario.make_optimizer(model.parameters()),
                      finished.scenario.loss_fn(), [batch])
    expected = [record.loss for record in stepper.run(STEPS)]
    assert [step.loss for step in finished.steps] == pytest.approx(expected, rel=1e-5)


def test_zero_consolidated_state_matches_owners(finished):
    if finished.strategy != "zero":
        pytest.skip("consolidation applies to ZeRO only")
    assert [check.name for check in finished.consolidated if not check.passed] == []


def test_zero_consolidated_state_covers_every_parameter(finished):
    if finished.strategy != "zero":
        pytest.skip("consolidation applies to ZeRO only")
    names = {check.name for check in finished.consolidated}
    assert names == {f"{n}.{key}" for n in finished.param_names
                     for key in ("step", "exp_avg", "exp_avg_sq")}


def test_no_rank_process_survives(finished):
    assert [pid for pid in finished.pids if rank_alive(pid)] == []
