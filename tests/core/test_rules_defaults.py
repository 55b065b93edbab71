"""Param groups without optional keys: the rules read torch's constructor defaults."""

import inspect
from pathlib import Path

import pytest
import torch

from optimstep.core import RULES, Scenario, ScenarioError, Stepper
from optimstep.core.custom import check_param_groups
from optimstep.core.explain import explain
from optimstep.core.rules.base import MissingHyperparameterError

from partial_groups import AttributeRateSGD, RateRule, RateSGD, rate_stepper

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def importable(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))


def signature_defaults(optimizer_class):
    parameters = inspect.signature(optimizer_class.__init__).parameters
    return {name: parameter.default for name, parameter in parameters.items()
            if parameter.default is not inspect.Parameter.empty}


@pytest.mark.parametrize("name", sorted(RULES))
def test_complete_fills_constructor_defaults(name):
    rule = RULES[name]

    completed = rule.complete({"lr": 0.5})

    assert completed == {**signature_defaults(rule.optimizer_class), "lr": 0.5}


@pytest.mark.parametrize("name", sorted(RULES))
def test_complete_keeps_torch_group(name):
    rule = RULES[name]
    param = torch.nn.Parameter(torch.zeros(2))
    group = {key: value for key, value in
             rule.optimizer_class([param]).param_groups[0].items() if key != "params"}

    assert rule.complete(group) is group


def run_rule(rule, group, param, grads):
    state = rule.initial_state(param, group)
    outputs = []
    for grad in grads:
        output = rule.run(param, grad, state, group)
        outputs.append(output)
        param, state = output.param, output.state
    return outputs


def same_outputs(first, second):
    return all(torch.equal(a.param, b.param)
               and a.state.keys() == b.state.keys()
               and all(torch.equal(a.state[key], b.state[key]) for key in a.state)
               for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize("flavour", ["torch", "textbook"])
@pytest.mark.parametrize("name", sorted(RULES))
def test_rule_on_lr_only_group_matches_torch_defaults(name, flavour):
    rule = RULES[name](flavour)
    param = torch.tensor([0.5, -1.0, 2.0])
    full = {key: value for key, value in
            rule.optimizer_class([torch.nn.Parameter(param.clone())]).param_groups[0].items()
            if key != "params"}
    grads = [torch.tensor([0.3, -0.2, 0.1]), torch.tensor([-0.1, -0.4, 0.2]),
             torch.tensor([0.2, 0.2, -0.3])]

    partial = run_rule(rule, {"lr": full["lr"]}, param, grads)
    expected = run_rule(rule, full, param, grads)

    assert same_outputs(partial, expected)


def own_stepper(path, rule, **hyperparameters):
    scenario = Scenario(optimizer_class=path, reference_rule=rule,
                        hyperparameters=hyperparameters)
    return Stepper.from_scenario(scenario)


def test_own_sgd_without_dampening_passes():
    records = own_stepper("partial_groups:NoDampeningSGD", "sgd", lr=0.1, momentum=0.9).run(5)

    assert [record.step for record in records if not record.passed] == []


def test_own_sgd_without_dampening_checks_buffer():
    record = own_stepper("partial_groups:NoDampeningSGD", "sgd", lr=0.1, momentum=0.9).run(2)[-1]

    assert "weight.momentum_buffer" in {check.name for check in record.checks}


def test_own_rmsprop_without_momentum_passes():
    records = own_stepper("partial_groups:NoMomentumRMSprop", "rmsprop", lr=0.01).run(5)

    assert [record.step for record in records if not record.passed] == []


def test_own_adam_with_lr_only_groups_passes():
    records = own_stepper("partial_groups:LrOnlyAdam", None, lr=0.1).run(5)

    assert [record.step for record in records if not record.passed] == []


def test_explain_own_adam_with_lr_only_groups():
    records = own_stepper("partial_groups:LrOnlyAdam", None, lr=0.1).run(2)

    lines = explain("adam", records[1], "weight", 0, records[0])

    assert lines[1].substitution == "0.9 × (−0.4500) + 0.1 × (−3.7000)"


def test_missing_key_without_default_names_key():
    with pytest.raises(MissingHyperparameterError, match="'rate'"):
        RateRule.complete({})


def test_missing_key_without_default_names_rule():
    with pytest.raises(MissingHyperparameterError, match="the Rate rule"):
        RateRule.complete({})


def test_missing_key_without_default_names_class():
    with pytest.raises(MissingHyperparameterError, match="RateSGD has no default"):
        RateRule.complete({})


def test_key_without_default_present_passes():
    assert RateRule.complete({"rate": 0.1}) == {"rate": 0.1}


def test_stepper_missing_key_rejected_at_construction():
    with pytest.raises(MissingHyperparameterError) as caught:
        rate_stepper(AttributeRateSGD)

    assert "\n" not in str(caught.value)
    assert "missing hyper-parameter 'rate' (the Rate rule" in str(caught.value)


def test_stepper_key_without_default_present_passes():
    records = rate_stepper(RateSGD).run(3)

    assert all(record.passed for record in records)


def test_check_param_groups_names_group_and_class():
    model = torch.nn.Linear(1, 1)
    optimizer = AttributeRateSGD(model.parameters(), rate=0.1)

    with pytest.raises(ScenarioError, match=r"^invalid param group 0 of AttributeRateSGD: "
                                            r"missing hyper-parameter 'rate'"):
        check_param_groups(optimizer, RateRule())


def test_check_param_groups_accepts_defaulted_keys():
    model = torch.nn.Linear(1, 1)
    optimizer = AttributeRateSGD(model.parameters(), rate=0.1)

    check_param_groups(optimizer, RULES["sgd"]())


def test_scenario_missing_key_rejected_before_step(monkeypatch):
    monkeypatch.setitem(RULES, "rate", RateRule)
    scenario = Scenario(optimizer_class="partial_groups:AttributeRateSGD", reference_rule="rate",
                        hyperparameters={"rate": 0.1})

    with pytest.raises(ScenarioError, match="invalid param group 0 of AttributeRateSGD"):
        scenario.build()
