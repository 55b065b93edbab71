"""Going back, jumping and replaying: a rewound Stepper reproduces its records bit for bit."""

import copy
import dataclasses
import math
from collections.abc import Mapping

import pytest
import torch

from optimstep.core import Stepper, preset


def make_stepper(reference="torch", history_mib=256):
    """A small MLP with dropout, so that replays depend on the RNG, over three batches."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.3), torch.nn.Tanh(),
                                torch.nn.Linear(8, 1))
    data = torch.Generator().manual_seed(1)
    batches = [(torch.randn(4, 3, generator=data), torch.randn(4, 1, generator=data))
               for _ in range(3)]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05, betas=(0.8, 0.95))
    return Stepper(model, optimizer, torch.nn.MSELoss(), batches, reference=reference,
                   history_mib=history_mib)


def assert_identical(a, b, path="record"):
    """Assert two records are equal field by field, every tensor by torch.equal."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), path
        assert (a.dtype, a.shape) == (b.dtype, b.shape), path
        assert torch.equal(a, b), path
    elif dataclasses.is_dataclass(a):
        assert type(a) is type(b), path
        for field in dataclasses.fields(a):
            assert_identical(getattr(a, field.name), getattr(b, field.name),
                             f"{path}.{field.name}")
    elif isinstance(a, Mapping):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_identical(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for index, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{path}[{index}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), path
    else:
        assert a == b, path


def model_values(stepper):
    return {name: value.clone() for name, value in stepper.model.state_dict().items()}


def assert_model_is(stepper, values):
    for name, value in stepper.model.state_dict().items():
        assert torch.equal(value, values[name]), name


def test_comparison_tells_steps_apart():
    records = make_stepper().run(2)
    with pytest.raises(AssertionError):
        assert_identical(records[0], records[1])


def test_back_then_forward_is_identical():
    stepper = make_stepper()
    first = stepper.run(10)
    stepper.back(4)
    again = stepper.run(4)
    for before, after in zip(first[6:], again):
        assert_identical(before, after)


def test_back_moves_step_count():
    stepper = make_stepper()
    stepper.run(10)
    stepper.back(4)
    assert stepper.step_count == 6


def test_back_returns_current_record():
    stepper = make_stepper()
    first = stepper.run(10)
    assert_identical(stepper.back(4), first[5])


def test_back_keeps_later_steps():
    stepper = make_stepper()
    stepper.run(10)
    stepper.back(4)
    assert stepper.latest_step == 10


def test_back_restores_model_and_optimizer():
    stepper = make_stepper()
    stepper.run(6)
    model, optimizer = model_values(stepper), copy.deepcopy(stepper.optimizer.state_dict())
    stepper.run(4)
    stepper.back(4)
    assert_model_is(stepper, model)
    assert_identical(stepper.optimizer.state_dict()["state"], optimizer["state"])


def test_goto_later_then_earlier():
    stepper = make_stepper()
    first = stepper.run(50)
    after_seven = {name: first[6].param(name).after for name in ("0.weight", "3.bias")}
    stepper.reset()
    stepper.goto(50)
    record = stepper.goto(7)
    assert_identical(record, first[6])
    assert_identical(stepper.records[-1], first[6])
    for name, value in after_seven.items():
        assert torch.equal(dict(stepper.model.named_parameters())[name].detach(), value), name


def test_goto_forward_within_kept_steps():
    stepper = make_stepper()
    first = stepper.run(20)
    stepper.goto(3)
    assert_identical(stepper.goto(20), first[19])


def test_goto_beyond_latest_takes_new_steps():
    stepper = make_stepper()
    stepper.run(5)
    stepper.goto(8)
    assert (stepper.step_count, stepper.latest_step) == (8, 8)


def test_goto_zero_restores_initial_model():
    stepper = make_stepper()
    initial = model_values(stepper)
    stepper.run(5)
    assert stepper.goto(0) is None
    assert_model_is(stepper, initial)


def test_goto_current_step_is_a_no_op():
    stepper = make_stepper()
    first = stepper.run(5)
    assert_identical(stepper.goto(5), first[4])


def test_step_after_back_matches_kept_step():
    stepper = make_stepper()
    first = stepper.run(10)
    stepper.goto(3)
    assert_identical(stepper.step(), first[3])


def test_back_restores_rng():
    stepper = make_stepper()
    stepper.run(1)
    rng = torch.get_rng_state()
    stepper.run(2)
    stepper.back(2)
    assert torch.equal(torch.get_rng_state(), rng)


def test_textbook_reference_replays_carried_state():
    stepper = make_stepper(reference="textbook")
    first = stepper.run(10)
    stepper.back(4)
    again = stepper.run(4)
    for before, after in zip(first[6:], again):
        assert_identical(before, after)


def test_textbook_snapshot_stores_carried_state():
    stepper = make_stepper(reference="textbook")
    stepper.run(5)
    carried = stepper.history.nearest_snapshot(5).carried
    assert any(state is not None for state in carried.values())


def test_torch_order_snapshot_shares_torch_state():
    stepper = make_stepper()
    stepper.run(5)
    carried = stepper.history.nearest_snapshot(5).carried
    assert list(carried.values()) == [None] * 4


def test_records_sequence():
    stepper = make_stepper()
    first = stepper.run(6)
    stepper.back(2)
    records = stepper.records
    assert len(records) == 4
    assert_identical(records[-1], first[3])
    assert_identical(records[1:3], first[1:3])
    assert_identical(list(records), first[:4])


def test_records_index_out_of_range():
    stepper = make_stepper()
    stepper.run(3)
    with pytest.raises(IndexError):
        stepper.records[3]


def test_reset_clears_history():
    stepper = make_stepper()
    initial_bytes = stepper.history_bytes
    stepper.run(10)
    stepper.set_hyperparameters(0, lr=0.01)
    stepper.reset()
    assert (stepper.step_count, stepper.latest_step, len(stepper.records)) == (0, 0, 0)
    assert stepper.edits == ()
    assert stepper.history_bytes == initial_bytes
    assert stepper.optimizer.param_groups[0]["lr"] == 0.05


def test_reset_then_run_is_identical():
    stepper = make_stepper()
    first = stepper.run(4)
    stepper.back(2)
    stepper.reset()
    for before, after in zip(first, stepper.run(4)):
        assert_identical(before, after)


def test_default_scenario_rewinds():
    stepper = Stepper.from_scenario(preset(), history_mib=1)
    first = stepper.run(101)
    assert_identical(stepper.goto(3), first[2])


@pytest.mark.parametrize("steps", [-1, 11, True, 1.0, "1"])
def test_back_rejects(steps):
    stepper = make_stepper()
    stepper.run(10)
    with pytest.raises(ValueError, match="expected an integer from 0 to 10"):
        stepper.back(steps)


@pytest.mark.parametrize("step", [-1, True, 2.0, None])
def test_goto_rejects(step):
    with pytest.raises(ValueError, match=r"invalid step: .* \(expected an integer >= 0\)"):
        make_stepper().goto(step)


@pytest.mark.parametrize("mib", [-1, float("nan"), float("inf"), "8", True])
def test_history_mib_rejects(mib):
    with pytest.raises(ValueError, match="invalid history_mib"):
        make_stepper(history_mib=mib)


def test_history_budget_in_bytes():
    assert make_stepper(history_mib=1.5).history_budget_bytes == 3 * 2**19


def test_back_keeps_param_group_objects():
    stepper = make_stepper()
    group = stepper.optimizer.param_groups[0]
    stepper.run(3)
    stepper.back(2)
    assert stepper.optimizer.param_groups[0] is group


def test_goto_zero_clears_optimizer_state():
    stepper = make_stepper()
    stepper.run(3)
    stepper.goto(0)
    assert len(stepper.optimizer.state) == 0


def test_records_concatenate_as_lists():
    stepper = make_stepper()
    first = stepper.run(2)
    assert_identical(stepper.records + first, first + first)
    assert_identical(first + stepper.records, first + first)
    assert_identical(stepper.records * 2, first * 2)


def test_records_equal_list():
    stepper = make_stepper()
    stepper.run(2)
    assert stepper.records == list(stepper.records)
    assert stepper.records != []
