"""--optimizer-class on the command line: which hyper-parameters reach one's own class."""

from __future__ import annotations

import argparse

import pytest

from optimstep.core import PRESETS, ScenarioError, Stepper
from optimstep.core.presets import DEFAULT_PRESET
from optimstep.tui.options import add_scenario_arguments, scenario_from_args

OWN_CLASSES = """\
import torch


class MySGD(torch.optim.SGD):
    pass


class MyAdam(torch.optim.Adam):
    pass


class LrOnlySGD(torch.optim.SGD):
    def __init__(self, params, lr=0.01):
        super().__init__(params, lr=lr)


class AnyKeywords(torch.optim.SGD):
    def __init__(self, params, **keywords):
        super().__init__(params, lr=keywords.get("lr", 0.01))
"""

ADAM_FILE = """\
[optimizer]
name = "adam"
lr = 0.05
betas = [0.8, 0.9]
"""

OWN_CLASS_FILE = """\
[optimizer]
class = "own_classes:MySGD"
lr = 0.05
"""


@pytest.fixture(autouse=True)
def own_classes(tmp_path, monkeypatch):
    (tmp_path / "own_classes.py").write_text(OWN_CLASSES)
    monkeypatch.chdir(tmp_path)


def scenario(*argv: str):
    parser = argparse.ArgumentParser()
    add_scenario_arguments(parser)
    return scenario_from_args(parser.parse_args(list(argv)))


def test_sgd_subclass_gets_preset_lr_only():
    built = scenario("--optimizer-class", "own_classes:MySGD")

    assert dict(built.hyperparameters) == {"lr": PRESETS[DEFAULT_PRESET].hyperparameters["lr"]}


def test_adam_subclass_keeps_preset_values():
    built = scenario("--optimizer-class", "own_classes:MyAdam")

    assert dict(built.hyperparameters) == dict(PRESETS[DEFAULT_PRESET].hyperparameters)


def test_class_with_any_keywords_keeps_preset_values():
    built = scenario("--optimizer-class", "own_classes:AnyKeywords", "--reference-rule", "sgd")

    assert dict(built.hyperparameters) == dict(PRESETS[DEFAULT_PRESET].hyperparameters)


def test_sgd_subclass_gets_flags():
    built = scenario("--optimizer-class", "own_classes:MySGD", "--momentum", "0.9",
                     "--set", "nesterov=true")

    assert (built.hyperparameters["momentum"], built.hyperparameters["nesterov"]) == (0.9, True)


def test_sgd_subclass_passes_checks():
    records = Stepper.from_scenario(scenario("--optimizer-class", "own_classes:MySGD")).run(10)

    assert all(record.passed for record in records)


def test_sgd_subclass_with_momentum_passes_checks():
    built = scenario("--optimizer-class", "own_classes:MySGD", "--momentum", "0.9")

    records = Stepper.from_scenario(built).run(10)

    assert all(record.passed for record in records)


def test_flag_class_lacks_names_flag():
    with pytest.raises(ScenarioError, match=r"^invalid --betas: '0\.9,0\.99' \(MySGD takes "
                                            r"no 'betas'; it accepts lr, momentum, "):
        scenario("--optimizer-class", "own_classes:MySGD", "--betas", "0.9,0.99")


def test_hyphenated_flag_class_lacks_names_flag():
    with pytest.raises(ScenarioError, match=r"^invalid --weight-decay: '0\.1' \(LrOnlySGD "
                                            r"takes no 'weight_decay'; it accepts lr\)$"):
        scenario("--optimizer-class", "own_classes:LrOnlySGD", "--weight-decay", "0.1")


def test_setting_class_lacks_names_setting():
    with pytest.raises(ScenarioError, match=r"^invalid --set: 'betas=0\.9,0\.99' \(MySGD "
                                            r"takes no 'betas'"):
        scenario("--optimizer-class", "own_classes:MySGD", "--set", "betas=0.9,0.99")


def test_setting_error_names_no_file_key():
    with pytest.raises(ScenarioError) as caught:
        scenario("--optimizer-class", "own_classes:MySGD", "--set", "betas=0.9,0.99")

    assert "optimizer." not in str(caught.value)


def test_file_values_filtered_for_flag_class(tmp_path):
    (tmp_path / "adam.toml").write_text(ADAM_FILE)

    built = scenario("--scenario", "adam.toml", "--optimizer-class", "own_classes:MySGD")

    assert dict(built.hyperparameters) == {"lr": 0.05}


def test_file_class_setting_names_setting(tmp_path):
    (tmp_path / "own.toml").write_text(OWN_CLASS_FILE)

    with pytest.raises(ScenarioError, match=r"^invalid --set: 'betas=0\.9,0\.99' \(MySGD "):
        scenario("--scenario", "own.toml", "--set", "betas=0.9,0.99")


def test_file_class_keeps_file_values(tmp_path):
    (tmp_path / "own.toml").write_text(OWN_CLASS_FILE)

    built = scenario("--scenario", "own.toml", "--momentum", "0.5")

    assert dict(built.hyperparameters) == {"lr": 0.05, "momentum": 0.5}
