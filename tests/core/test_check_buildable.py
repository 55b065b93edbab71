"""check_buildable: a scenario's errors and rule, found without constructing the optimizer."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from optimstep.core import PRESETS, RULES, Scenario, ScenarioError, Stepper
from optimstep.core.builder import check_buildable

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def importable(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))


@pytest.mark.parametrize("name", PRESETS)
def test_rule_matches_stepper_for_preset(name):
    scenario = PRESETS[name]
    assert type(check_buildable(scenario)) is type(Stepper.from_scenario(scenario).rule)


@pytest.mark.parametrize("optimizer", RULES)
def test_rule_matches_stepper_for_optimizer(optimizer):
    scenario = Scenario().with_optimizer(optimizer)
    assert type(check_buildable(scenario)) is type(Stepper.from_scenario(scenario).rule)


def test_rule_has_scenario_flavour():
    assert check_buildable(Scenario(reference="textbook")).flavour == "textbook"


def test_reference_rule_wins():
    scenario = Scenario(reference_rule="adamw")
    assert type(check_buildable(scenario)) is type(Stepper.from_scenario(scenario).rule)


def test_custom_class_gets_base_rule():
    scenario = Scenario(optimizer_class="adam_variants:SubclassedAdam")
    assert type(check_buildable(scenario)) is RULES["adam"]


def test_rejects_custom_class_without_rule():
    scenario = Scenario(optimizer_class="adam_variants:TorchOrderAdam")
    with pytest.raises(ScenarioError, match="missing reference rule for"):
        check_buildable(scenario)


def test_rejects_parameter_shape():
    scenario = Scenario(parameters={"weight": [1.0, 2.0]})
    with pytest.raises(ScenarioError, match=r"invalid parameters.weight: \[1.0, 2.0\]"):
        check_buildable(scenario)


def test_rejects_param_group_name():
    scenario = Scenario(param_groups=({"params": ["weigth"]},))
    with pytest.raises(ScenarioError, match="invalid param_groups\\[0\\].params: 'weigth'"):
        check_buildable(scenario)


def test_error_names_scenario_file():
    scenario = dataclasses.replace(Scenario(parameters={"wheight": 1.0}), source="run.toml")
    with pytest.raises(ScenarioError, match="^run.toml: invalid parameters: 'wheight'"):
        check_buildable(scenario)


def test_leaves_dynamo_unimported():
    # Constructing an optimizer imports torch._dynamo, about a second, which the app's first
    # frame must not wait for.
    code = ("import sys; from optimstep.core import Scenario; "
            "from optimstep.core.builder import check_buildable; check_buildable(Scenario()); "
            "print('torch._dynamo' in sys.modules)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert output.strip() == "False"
