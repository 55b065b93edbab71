"""Live hyper-parameter edits: validated, recorded, undone by going back, redone by replay."""

import pytest
import torch

from optimstep.core import HyperparameterEdit
from optimstep.core.hyperparameters import check_with_torch, checked_value

from test_history import assert_identical, make_stepper


def update(record, name="0.weight"):
    return record.param(name).actual_update


@pytest.fixture(scope="module")
def edited():
    """Records of ten steps with lr set to 0.01 at step 5, and of ten unedited steps."""
    stepper = make_stepper()
    records = stepper.run(5)
    stepper.set_hyperparameters(0, lr=0.01)
    return records + stepper.run(5), make_stepper().run(10)


def test_edit_leaves_its_step_alone(edited):
    records, plain = edited
    assert_identical(records[4], plain[4])


def test_edit_changes_later_updates(edited):
    records, plain = edited
    assert not torch.equal(update(records[5]), update(plain[5]))


def test_edit_reaches_record_hyperparameters(edited):
    records, _ = edited
    assert [r.hyperparameters[0]["lr"] for r in records[3:7]] == [0.05, 0.05, 0.01, 0.01]


def test_edit_is_recorded():
    stepper = make_stepper()
    stepper.run(5)
    edits = stepper.set_hyperparameters(0, lr=0.01, betas=(0.9, 0.99))
    assert edits == (HyperparameterEdit(5, 0, "lr", 0.05, 0.01),
                     HyperparameterEdit(5, 0, "betas", (0.8, 0.95), (0.9, 0.99)))
    assert stepper.edits == edits


def test_going_back_before_edit_restores_old_value():
    stepper = make_stepper()
    stepper.run(5)
    stepper.set_hyperparameters(0, lr=0.01)
    stepper.run(5)
    stepper.goto(4)
    assert stepper.optimizer.param_groups[0]["lr"] == 0.05


def test_going_back_to_edit_step_keeps_edit():
    stepper = make_stepper()
    stepper.run(5)
    stepper.set_hyperparameters(0, lr=0.01)
    stepper.run(5)
    stepper.goto(5)
    assert stepper.optimizer.param_groups[0]["lr"] == 0.01


def test_replay_through_edit_reapplies_it(edited):
    records, _ = edited
    stepper = make_stepper()
    stepper.run(5)
    stepper.set_hyperparameters(0, lr=0.01)
    stepper.run(5)
    stepper.goto(4)
    for before, after in zip(records[4:], stepper.run(6)):
        assert_identical(before, after)


def test_goto_through_edit_from_step_zero(edited):
    records, _ = edited
    stepper = make_stepper(history_mib=0)
    stepper.run(5)
    stepper.set_hyperparameters(0, lr=0.01)
    stepper.run(5)
    stepper.goto(0)
    assert_identical(stepper.goto(8), records[7])


def test_dropped_records_recreated_through_edit(edited):
    records, _ = edited
    stepper = make_stepper(history_mib=0)
    stepper.run(5)
    stepper.set_hyperparameters(0, lr=0.01)
    stepper.run(5)
    assert_identical(list(stepper.records), records)


def test_edit_after_going_back_discards_later_steps():
    stepper = make_stepper()
    stepper.run(5)
    stepper.set_hyperparameters(0, lr=0.01)
    stepper.run(5)
    stepper.goto(3)
    stepper.set_hyperparameters(0, eps=1e-6)
    assert stepper.latest_step == 3
    assert [edit.key for edit in stepper.edits] == ["eps"]


def test_unchanged_value_makes_no_edit():
    stepper = make_stepper()
    stepper.run(5)
    stepper.back(2)
    assert stepper.set_hyperparameters(0, lr=0.05) == ()
    assert stepper.latest_step == 5


def test_two_edits_of_one_key_replay_in_order():
    stepper = make_stepper()
    stepper.run(2)
    stepper.set_hyperparameters(0, lr=0.2)
    stepper.set_hyperparameters(0, lr=0.3)
    first = stepper.run(2)
    stepper.goto(0)
    stepper.goto(2)
    assert stepper.optimizer.param_groups[0]["lr"] == 0.3
    assert_identical(stepper.run(2), first)


@pytest.mark.parametrize("values, message", [
    ({"lr": -0.1}, r"invalid lr: -0\.1 \(expected a finite number >= 0\)"),
    ({"lr": float("nan")}, r"invalid lr: nan"),
    ({"lr": "0.1"}, r"invalid lr: '0\.1'"),
    ({"lr": True}, r"invalid lr: True"),
    ({"eps": -1e-8}, r"invalid eps: -1e-08 \(expected a finite number >= 0\)"),
    ({"weight_decay": float("inf")}, r"invalid weight_decay: inf"),
    ({"betas": (0.9, 1.0)}, r"invalid betas: \(0\.9, 1\.0\) \(expected a pair of numbers, "
                            r"each in \[0, 1\)\)"),
    ({"betas": (0.9,)}, r"invalid betas: \(0\.9,\)"),
    ({"betas": (-0.1, 0.9)}, r"invalid betas"),
    ({"maximize": 1}, r"invalid maximize: 1 \(expected True or False\)"),
    ({"momentum": 0.9}, r"invalid hyper-parameter 'momentum': 0\.9 \(expected one of lr, "
                        r"betas, eps, weight_decay, maximize, decoupled_weight_decay\)"),
    ({"params": []}, r"invalid hyper-parameter 'params'"),
    ({"amsgrad": True}, r"invalid amsgrad: True \(amsgrad cannot change during a run"),
    ({"foreach": True}, r"invalid foreach: True"),
])
def test_invalid_value_rejected(values, message):
    with pytest.raises(ValueError, match=message):
        make_stepper().set_hyperparameters(0, **values)


@pytest.mark.parametrize("index", [1, -1, True, "0"])
def test_invalid_group_rejected(index):
    with pytest.raises(ValueError, match=r"invalid param group index: .* \(expected an integer "
                                         r"from 0 to 0\)"):
        make_stepper().set_hyperparameters(index, lr=0.1)


def test_rejected_edit_changes_nothing():
    stepper = make_stepper()
    with pytest.raises(ValueError):
        stepper.set_hyperparameters(0, lr=0.01, eps=-1.0)
    assert stepper.optimizer.param_groups[0]["lr"] == 0.05
    assert stepper.edits == ()


def test_valid_values_accepted():
    stepper = make_stepper()
    stepper.set_hyperparameters(0, lr=0, betas=[0.0, 0.5], eps=0.0, weight_decay=0.1,
                                maximize=True)
    group = stepper.optimizer.param_groups[0]
    assert (group["lr"], group["betas"], group["maximize"]) == (0, (0.0, 0.5), True)


def test_tensor_lr_stays_a_tensor():
    param = torch.nn.Parameter(torch.zeros(2))
    group = torch.optim.Adam([param], lr=torch.tensor(0.1)).param_groups[0]
    value = checked_value(group, "lr", 0.5)
    assert (type(value), value.dtype, value.item()) == (torch.Tensor, torch.float32, 0.5)


def test_tensor_for_float_lr_becomes_float():
    param = torch.nn.Parameter(torch.zeros(2))
    group = torch.optim.Adam([param], lr=0.1).param_groups[0]
    assert checked_value(group, "lr", torch.tensor(0.5)) == 0.5


@pytest.mark.parametrize("key, value, message", [
    ("momentum", -0.5, r"invalid momentum: -0\.5 \(expected a finite number >= 0\)"),
    ("dampening", float("nan"), r"invalid dampening: nan \(expected a finite number\)"),
    ("nesterov", "yes", r"invalid nesterov: 'yes' \(expected True or False\)"),
])
def test_sgd_values_rejected(key, value, message):
    param = torch.nn.Parameter(torch.zeros(2))
    group = torch.optim.SGD([param], lr=0.1).param_groups[0]
    with pytest.raises(ValueError, match=message):
        checked_value(group, key, value)


def test_torch_rejects_nesterov_without_momentum():
    param = torch.nn.Parameter(torch.zeros(2))
    group = torch.optim.SGD([param], lr=0.1).param_groups[0]
    with pytest.raises(ValueError, match=r"param group 0 \(nesterov=True\): .*[Nn]esterov"):
        check_with_torch(torch.optim.SGD, 0, group, {"nesterov": True})


def test_trial_step_rejects_weight_decay_float32_cannot_hold():
    stepper = make_stepper()
    stepper.run(1)
    with pytest.raises(ValueError, match=r"^invalid hyper-parameters for param group 0 "
                                         r"\(weight_decay=1e\+300\): a trial step on a float32 "
                                         r"parameter failed: value cannot be converted"):
        stepper.set_hyperparameters(0, weight_decay=1e300)
    assert stepper.optimizer.param_groups[0]["weight_decay"] == 0
    assert stepper.step().passed


def test_trial_step_leaves_the_run_unchanged():
    # Setting the values the group already has makes no edit, but still runs the trial.
    # Each stepper seeds the global RNG that its dropout draws from, so each runs right after
    # it is built.
    plain = make_stepper().run(3)
    edited = make_stepper()
    group = edited.optimizer.param_groups[0]
    assert edited.set_hyperparameters(0, lr=group["lr"], weight_decay=group["weight_decay"]) == ()
    assert_identical(edited.run(3), plain)


def test_torch_accepts_nesterov_with_momentum():
    param = torch.nn.Parameter(torch.zeros(2))
    group = torch.optim.SGD([param], lr=0.1, momentum=0.9).param_groups[0]
    assert check_with_torch(torch.optim.SGD, 0, group, {"nesterov": True}) is None


def test_sequence_takes_group_type():
    param = torch.nn.Parameter(torch.zeros(2))
    group = torch.optim.Rprop([param]).param_groups[0]
    assert checked_value(group, "etas", [0.4, 1.3]) == (0.4, 1.3)


def test_sequence_of_numbers_rejects_text():
    param = torch.nn.Parameter(torch.zeros(2))
    group = torch.optim.Rprop([param]).param_groups[0]
    with pytest.raises(ValueError, match=r"invalid etas: \('a', 1\.2\) \(expected a sequence of 2 "
                                         r"finite numbers\)"):
        checked_value(group, "etas", ("a", 1.2))
