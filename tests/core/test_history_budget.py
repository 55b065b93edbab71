"""The history stays within its memory budget and still reaches every step exactly."""

import pytest
import torch

from optimstep.core import Stepper
from optimstep.core.history import TENSOR_OVERHEAD_BYTES, _bitwise_equal, tensor_bytes

from test_history import assert_identical

STEPS = 500


def make_stepper(history_mib):
    """Linear(48, 48) without bias: 2,304 parameters, so a snapshot is about 30 KiB with Adam."""
    torch.manual_seed(0)
    model = torch.nn.Linear(48, 48, bias=False)
    data = torch.Generator().manual_seed(1)
    batches = [(torch.randn(8, 48, generator=data), torch.randn(8, 48, generator=data))
               for _ in range(2)]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    return Stepper(model, optimizer, torch.nn.MSELoss(), batches, history_mib=history_mib)


@pytest.fixture(scope="module")
def long_run():
    """A 500-step run under a 1 MiB budget: the stepper, kept first-pass records, peak bytes."""
    stepper = make_stepper(history_mib=1)
    kept, peak = {}, 0
    for _ in range(STEPS):
        record = stepper.step()
        peak = max(peak, stepper.history_bytes)
        if record.step in (1, 40, 41, 42, 43, 250):
            kept[record.step] = record
    return stepper, kept, peak


@pytest.fixture(scope="module")
def rewound(long_run):
    """The long run's step 1 as `goto(1)` returned it, the weight then, and the next record."""
    stepper, _, _ = long_run
    record = stepper.goto(1)
    weight = stepper.model.weight.detach().clone()
    following = stepper.step()
    stepper.goto(STEPS)
    return record, weight, following


def test_snapshots_of_every_step_exceed_budget(long_run):
    stepper, _, _ = long_run
    assert stepper.history.nearest_snapshot(STEPS).nbytes * STEPS > stepper.history_budget_bytes


def test_history_stays_within_budget(long_run):
    stepper, _, peak = long_run
    assert peak <= stepper.history_budget_bytes


def test_history_drops_records(long_run):
    stepper, _, _ = long_run
    assert stepper.history.record(1) is None


def test_history_keeps_current_record(long_run):
    stepper, _, _ = long_run
    assert stepper.history.record_steps[-1] == STEPS


def test_snapshots_denser_near_latest(long_run):
    stepper, _, _ = long_run
    steps = stepper.history.snapshot_steps
    gaps = [later - earlier for earlier, later in zip(steps, steps[1:])]
    assert gaps == sorted(gaps, reverse=True)


def test_snapshots_spread_over_history(long_run):
    stepper, _, _ = long_run
    steps = stepper.history.snapshot_steps
    assert max(later - earlier for earlier, later in zip(steps, steps[1:])) <= STEPS // 4


def test_dropped_record_recreated_exactly(long_run):
    stepper, kept, _ = long_run
    assert_identical(stepper.records[249], kept[250])


def test_iteration_recreates_records(long_run):
    stepper, kept, _ = long_run
    for record in stepper.records[39:43]:
        assert_identical(record, kept[record.step])


def test_recreating_leaves_stepper_in_place(long_run):
    stepper, _, _ = long_run
    weight = stepper.model.weight.detach().clone()
    stepper.records[99]
    assert stepper.step_count == STEPS
    assert torch.equal(stepper.model.weight.detach(), weight)


def test_rewinds_to_step_one_exactly(long_run, rewound):
    _, kept, _ = long_run
    assert_identical(rewound[0], kept[1])


def test_rewind_to_step_one_restores_weight(long_run, rewound):
    _, kept, _ = long_run
    assert torch.equal(rewound[1], kept[1].param("weight").after)


def test_step_after_rewind_matches_first_pass(long_run, rewound):
    stepper, _, _ = long_run
    assert_identical(rewound[2], stepper.records[1])


def test_back_at_budget_within_budget(long_run, rewound):
    stepper, _, _ = long_run
    assert stepper.history_bytes <= stepper.history_budget_bytes


def test_zero_budget_keeps_step_zero_only():
    stepper = make_stepper(history_mib=0)
    records = stepper.run(5)
    assert stepper.history.snapshot_steps == (0,)
    assert stepper.history.record_steps == ()
    assert_identical(stepper.goto(3), records[2])


def test_zero_budget_stores_nothing_and_does_not_warn(caplog):
    # A zero budget is a choice (optimstep check makes it), not a budget too small.
    stepper = make_stepper(history_mib=0)
    with caplog.at_level("WARNING", logger="optimstep"):
        stepper.run(3)
        list(stepper.records)
    assert stepper.history_bytes == stepper.history.snapshot_bytes
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_small_budget_still_warns(caplog):
    stepper = make_stepper(history_mib=1e-6)
    with caplog.at_level("WARNING", logger="optimstep"):
        stepper.run(2)
    assert any("below" in r.getMessage() for r in caplog.records)


def test_tensor_bytes_counts_shared_storage_once():
    tensor = torch.zeros(100)
    assert tensor_bytes(tensor, tensor[:10]) == 400 + 2 * TENSOR_OVERHEAD_BYTES


def test_tensor_bytes_counts_one_tensor_once():
    tensor = torch.zeros(100, dtype=torch.float64)
    assert tensor_bytes({"a": tensor, "b": [tensor]}) == 800 + TENSOR_OVERHEAD_BYTES


@pytest.mark.parametrize("a, b, expected", [
    (torch.tensor([0.0, 1.0]), torch.tensor([0.0, 1.0]), True),
    (torch.tensor([0.0]), torch.tensor([-0.0]), False),
    (torch.tensor([float("nan")]), torch.tensor([float("nan")]), True),
    (torch.tensor(1.0, dtype=torch.float64), torch.tensor(1.0), False),
    (torch.tensor([True]), torch.tensor([True]), True),
])
def test_bitwise_equal(a, b, expected):
    assert _bitwise_equal(a, b) is expected
