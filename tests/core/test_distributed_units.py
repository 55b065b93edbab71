"""Parts of a distributed run that need no rank process: scenarios, faults, checks, results."""

import dataclasses

import pytest
import torch

from optimstep.core import Scenario, ScenarioError, Stepper, Tolerance
from optimstep.core.distributed import (DistributedError, DistributedRun, DistributedStep,
                                        RankStep, ShardedScenario, mlp_scenario)
from optimstep.core.distributed.faults import FAULT_ENV, Fault, PlantedFault, fault_from_env
from optimstep.core.distributed.strategies import FSDP
from optimstep.core.distributed.verify import audit_average, compare_ranks
from optimstep.core.trace import record_to_dict

TOL = Tolerance(rtol=1e-5, atol=1e-8)


def test_default_shards_rebuild_the_batch():
    sharded = ShardedScenario()
    shards = [sharded.rank_batches(rank, 2)[0] for rank in range(2)]
    x, y = Scenario().build().batches[0]
    assert torch.equal(torch.cat([s[0] for s in shards]), x)
    assert torch.equal(torch.cat([s[1] for s in shards]), y)


def test_uneven_split_is_rejected_naming_ranks():
    with pytest.raises(ScenarioError, match=r"invalid ranks: 3 .*expected one of 1, 2\)"):
        ShardedScenario().validate(3)


def test_unknown_model_is_rejected():
    with pytest.raises(ScenarioError, match="invalid model: 'cnn'"):
        ShardedScenario(model="cnn")


def test_invalid_samples_per_rank_is_rejected():
    with pytest.raises(ScenarioError, match="invalid samples_per_rank: 0"):
        mlp_scenario(samples_per_rank=0)


def test_mlp_ranks_get_different_data():
    scenario = mlp_scenario()
    (x0, _), = scenario.rank_batches(0, 2)
    (x1, _), = scenario.rank_batches(1, 2)
    assert not torch.equal(x0, x1)


def test_mlp_data_is_seeded():
    assert torch.equal(mlp_scenario().rank_batches(1, 4)[0][0],
                       mlp_scenario().rank_batches(1, 4)[0][0])


def test_mlp_weights_are_seeded():
    first, second = mlp_scenario().build_model(), mlp_scenario().build_model()
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters()))


def test_mlp_follows_scenario_dtype():
    model = mlp_scenario(Scenario(dtype="float64")).build_model()
    assert {p.dtype for p in model.parameters()} == {torch.float64}


def test_fault_spec_round_trips():
    fault = Fault("grad_scale", rank=1, step=2, factor=4.0)
    assert fault_from_env({FAULT_ENV: fault.spec()}) == fault


def test_no_fault_without_variable():
    assert fault_from_env({}) is None


@pytest.mark.parametrize("spec", ["explode:1:2", "raise:one:2", "raise:1", "raise:1:2:3:4"])
def test_invalid_fault_is_rejected(spec):
    with pytest.raises(ValueError, match=FAULT_ENV):
        fault_from_env({FAULT_ENV: spec})


def step_with_fault(fault: Fault, rank: int) -> torch.Tensor:
    param = torch.nn.Parameter(torch.tensor([1.0]))
    optimizer = torch.optim.SGD([param], lr=1.0)
    planted = PlantedFault(fault, rank, optimizer)
    planted.start_step(1)
    param.grad = torch.tensor([1.0])
    optimizer.step()
    return param.grad


def test_grad_scale_scales_the_faulty_rank():
    assert step_with_fault(Fault("grad_scale", rank=1, step=1, factor=3.0), rank=1).item() == 3.0


def test_grad_scale_spares_other_ranks():
    assert step_with_fault(Fault("grad_scale", rank=1, step=1), rank=0).item() == 1.0


def test_planted_raise_names_rank_and_step():
    planted = PlantedFault(Fault("raise", rank=0, step=2), 0, torch.optim.SGD([torch.zeros(1)]))
    planted.start_step(1)
    with pytest.raises(RuntimeError, match="rank 0 raised at step 2"):
        planted.start_step(2)


def test_audit_passes_exact_mean():
    grads = [torch.tensor([1.0, -2.0]), torch.tensor([3.0, 2.0])]
    assert audit_average("w", torch.tensor([2.0, 0.0]), grads, TOL).passed


def test_audit_bound_scales_with_summands():
    # Gradients that nearly cancel: a rounding error of 1e-7 in their sum is far above
    # rtol·|mean| but well within rtol·mean(|g|), so the audit must pass it.
    grads = [torch.tensor([1.0], dtype=torch.float64), torch.tensor([-0.998], dtype=torch.float64)]
    received = torch.tensor([0.001 + 1e-7], dtype=torch.float64)
    assert audit_average("w", received, grads, TOL).passed


def test_audit_fails_doubled_gradient():
    grads = [torch.tensor([1.0]), torch.tensor([3.0])]
    check = audit_average("w", torch.tensor([4.0]), grads, TOL)
    assert (check.passed, check.name, check.mode) == (False, "w.grad", "average")


def test_rank_comparison_fails_one_ulp():
    rank0 = torch.tensor([1.0])
    check = compare_ranks("w.param", torch.nextafter(rank0, torch.tensor([2.0])), rank0)
    assert (check.passed, check.max_ulp) == (False, 1)


def test_rank_comparison_passes_identical():
    assert compare_ranks("w.param", torch.tensor([1.5]), torch.tensor([1.5])).passed


def fsdp_shard(full: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    strategy = FSDP.__new__(FSDP)
    strategy.rank, strategy.world_size = rank, world_size
    return strategy.shard(full)


def test_fsdp_shard_takes_rank_chunk():
    assert fsdp_shard(torch.arange(5.0), 1, 2).tolist() == [3.0, 4.0]


def test_fsdp_shard_past_last_chunk_is_empty():
    assert fsdp_shard(torch.ones(1, 3), 1, 2).shape == (0, 3)


def rank_summary(rank: int, corrupt: bool = False) -> dict:
    record = Stepper.from_scenario(Scenario()).step()
    if corrupt:
        check = dataclasses.replace(record.checks[0], passed=False)
        record = dataclasses.replace(record, checks=(check, *record.checks[1:]))
    return {"rank": rank, "step": record.step, "record": record_to_dict(record)}


def test_rank_step_reads_record():
    rank = RankStep.from_summary(rank_summary(1))
    assert (rank.rank, rank.step, rank.loss, rank.passed) == (1, 1, 2.125, True)


def test_distributed_step_lists_failures_by_rank():
    step = DistributedStep(1, "ddp", (RankStep.from_summary(rank_summary(0)),
                                      RankStep.from_summary(rank_summary(1, corrupt=True))))
    assert [(rank, check.name) for rank, check in step.failures] == [(1, "weight.param")]


def test_distributed_step_json_names_ranks():
    step = DistributedStep(1, "ddp", (RankStep.from_summary(rank_summary(0)),
                                      RankStep.from_summary(rank_summary(1))))
    assert [rank["rank"] for rank in step.to_dict()["ranks"]] == [0, 1]


@pytest.mark.parametrize("options, message", [
    ({"strategy": "horovod"}, "invalid strategy: 'horovod'"),
    ({"world_size": 0}, "invalid world size: 0"),
    ({"backend": "mpi"}, "invalid backend: 'mpi'"),
    ({"step_timeout": 0}, "invalid step timeout: 0"),
    ({"start_timeout": float("nan")}, "invalid start timeout: nan"),
])
def test_run_rejects_invalid_options(options, message):
    with pytest.raises(ValueError, match=message):
        DistributedRun(**options)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_nccl_without_devices_is_rejected():
    with pytest.raises(ValueError, match="one CUDA device per rank"):
        DistributedRun(backend="nccl")


def test_step_before_start_is_rejected():
    with pytest.raises(DistributedError, match="the run is new, not running"):
        DistributedRun().step()


def test_consolidate_needs_zero():
    with pytest.raises(ValueError, match="zero strategy, not ddp"):
        DistributedRun(strategy="ddp").consolidate()


def test_closing_unstarted_run_is_harmless():
    run = DistributedRun()
    run.close()
    assert run.pids == ()


def test_run_leaves_caller_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    DistributedRun()
    assert torch.equal(torch.rand(1), expected)
