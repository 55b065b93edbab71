"""Scenario validation of the optimizer, its hyper-parameters and the device."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from optimstep.core import RULES, Scenario, ScenarioError, Stepper


@pytest.mark.parametrize("changes, message", [
    ({"optimizer": "adagradd"}, "invalid optimizer: 'adagradd' \\(expected one of adadelta"),
    ({"optimizer": "lbfgs"}, "LBFGS needs a closure and re-evaluates the loss"),
    ({"optimizer": "sparseadam"}, "SparseAdam needs sparse gradients"),
    ({"hyperparameters": {"lr": -0.1}}, "invalid Adam lr: -0.1 \\(expected a finite number >= 0"),
    ({"hyperparameters": {"lr": float("inf")}}, "invalid Adam lr: inf"),
    ({"hyperparameters": {"betas": (0.9, 1.2)}}, "invalid Adam betas\\[1\\]: 1.2"),
    ({"hyperparameters": {"nesterov": True}}, "invalid Adam hyper-parameter: 'nesterov'"),
    ({"optimizer": "sgd", "hyperparameters": {"lr": 0.1, "nesterov": True}},
     "Nesterov momentum needs momentum > 0"),
    ({"hyperparameters": {"lr": 0.1, "capturable": True}}, "not available on this device"),
    ({"hyperparameters": {"lr": 0.1, "differentiable": True}}, "invalid differentiable"),
    ({"device": "bogus"}, "invalid device: 'bogus'"),
    ({"hyperparameters": {"lr": 0.1, "fused": True, "foreach": True}},
     "fused=True with foreach=True"),
])
def test_scenario_rejects(changes, message):
    with pytest.raises(ScenarioError, match=message):
        Scenario(**changes)


@pytest.mark.parametrize("changes", [
    {"optimizer": "lbfgs"}, {"hyperparameters": {"lr": -1}}, {"device": "bogus"},
    {"hyperparameters": {"lr": 0.1, "capturable": True}},
])
def test_scenario_error_is_one_line(changes):
    with pytest.raises(ScenarioError) as error:
        Scenario(**changes)

    assert "\n" not in str(error.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_missing_device_is_rejected():
    with pytest.raises(ScenarioError, match="invalid device: 'cuda' .*finds no CUDA device"):
        Scenario(device="cuda")


def test_unknown_optimizer_is_rejected_before_hyperparameters():
    with pytest.raises(ScenarioError, match="invalid optimizer"):
        Scenario(optimizer="nope", hyperparameters={"nesterov": True})


def test_hyperparameters_are_normalised():
    scenario = Scenario(optimizer="sgd", hyperparameters={"lr": 1, "momentum": 0})

    assert scenario.hyperparameters == {"lr": 1.0, "momentum": 0.0}


def test_betas_list_becomes_tuple():
    scenario = Scenario(hyperparameters={"lr": 0.1, "betas": [0.8, 0.9]})

    assert scenario.hyperparameters["betas"] == (0.8, 0.9)


def test_rule_property_returns_the_rule():
    assert Scenario(optimizer="rprop", hyperparameters={}).rule is RULES["rprop"]


def test_with_optimizer_keeps_only_lr():
    scenario = Scenario().with_optimizer("rmsprop")

    assert scenario.hyperparameters == {"lr": 0.1}


def test_with_optimizer_names_the_optimizer():
    assert Scenario().with_optimizer("nadam").optimizer == "nadam"


def test_with_same_optimizer_keeps_hyperparameters():
    scenario = Scenario()

    assert scenario.with_optimizer("adam") is scenario


def test_with_unknown_optimizer_is_rejected():
    with pytest.raises(ScenarioError, match="invalid optimizer: 'lbfgs'"):
        Scenario().with_optimizer("lbfgs")


@pytest.mark.parametrize("name", sorted(RULES))
def test_each_optimizer_builds_from_the_default_scenario(name):
    built = Scenario().with_optimizer(name).build()

    assert isinstance(built.optimizer, RULES[name].optimizer_class)
    assert built.optimizer.param_groups[0]["lr"] == 0.1


def test_tensor_lr_scenario_passes():
    scenario = Scenario(hyperparameters={"lr": torch.tensor(0.1), "betas": (0.9, 0.99)})

    records = Stepper.from_scenario(scenario).run(10)

    assert all(record.passed for record in records)


def test_build_puts_model_on_the_device():
    built = dataclasses.replace(Scenario(), device="cpu").build()

    assert built.model.weight.device.type == "cpu"


def test_torch_rejection_becomes_scenario_error():
    # Adam takes a tensor lr only without foreach; torch raises, the scenario reports it.
    scenario = Scenario(hyperparameters={"lr": torch.tensor(0.1), "foreach": True})

    with pytest.raises(ScenarioError, match="invalid hyper-parameters for adam"):
        scenario.build()
