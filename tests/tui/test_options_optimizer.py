"""The options that choose the optimizer and its hyper-parameters, down to the engine."""

from __future__ import annotations

import argparse

import pytest

from optimstep.core import RULES, ScenarioError, Stepper
from optimstep.tui.options import (add_scenario_arguments, parse_setting, parse_value,
                                   scenario_from_args)

STEPS = 50


def scenario(*argv: str):
    parser = argparse.ArgumentParser()
    add_scenario_arguments(parser)
    return scenario_from_args(parser.parse_args(list(argv)))


def check_passes(*argv: str, steps: int = STEPS) -> bool:
    """Whether every record passes, as `optimstep check ... --steps 50` would report."""
    records = Stepper.from_scenario(scenario(*argv)).run(steps)
    return all(record.passed for record in records)


@pytest.mark.parametrize("argv", [
    ("--optimizer", "adamw", "--weight-decay", "0.01"),
    ("--optimizer", "sgd", "--set", "momentum=0.9", "--set", "nesterov=true"),
    ("--optimizer", "adam", "--set", "amsgrad=true"),
])
def test_documented_commands_pass(argv):
    assert check_passes(*argv)


@pytest.mark.parametrize("name", sorted(RULES))
def test_each_optimizer_passes(name):
    assert check_passes("--optimizer", name)


@pytest.mark.parametrize("name", sorted(RULES))
def test_each_optimizer_passes_textbook(name):
    assert check_passes("--optimizer", name, "--reference", "textbook", steps=20)


@pytest.mark.parametrize("name", ["adam", "sgd", "rmsprop"])
def test_each_optimizer_passes_in_bfloat16(name):
    assert check_passes("--optimizer", name, "--dtype", "bfloat16")


def test_fused_adam_passes():
    assert check_passes("--set", "fused=true")


def test_foreach_rmsprop_passes():
    assert check_passes("--optimizer", "rmsprop", "--set", "foreach=true", "--momentum", "0.5")


def test_default_keeps_adam_hyperparameters():
    assert scenario().hyperparameters == {"lr": 0.1, "betas": (0.9, 0.99), "eps": 1e-8}


def test_other_optimizer_replaces_hyperparameters():
    assert scenario("--optimizer", "sgd").hyperparameters == {"lr": 0.1}


def test_other_optimizer_takes_given_lr():
    assert scenario("--optimizer", "sgd", "--lr", "0.5").hyperparameters == {"lr": 0.5}


def test_optimizer_name_ignores_case():
    assert scenario("--optimizer", "AdamW").optimizer == "adamw"


def test_hyperparameter_options_reach_the_scenario():
    chosen = scenario("--lr", "0.01", "--betas", "0.8,0.9", "--eps", "1e-6",
                      "--weight-decay", "0.1")

    assert chosen.hyperparameters == {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6,
                                      "weight_decay": 0.1}


def test_momentum_option_reaches_sgd():
    assert scenario("--optimizer", "sgd", "--momentum", "0.9").hyperparameters["momentum"] == 0.9


def test_set_overrides_options():
    assert scenario("--lr", "0.01", "--set", "lr=0.02").hyperparameters["lr"] == 0.02


def test_set_reads_hyphenated_keys():
    assert scenario("--set", "weight-decay=0.1").hyperparameters["weight_decay"] == 0.1


def test_reference_and_dtype_reach_the_scenario():
    chosen = scenario("--reference", "textbook", "--dtype", "float64")

    assert (chosen.reference, chosen.dtype) == ("textbook", "float64")


def test_device_reaches_the_scenario():
    assert scenario("--device", "cpu").device == "cpu"


@pytest.mark.parametrize("text, expected", [
    ("true", True), ("False", False), ("none", None), ("3", 3), ("-2", -2), ("0.5", 0.5),
    ("1e-3", 1e-3), ("0.9,0.999", (0.9, 0.999)), ("1,2", (1, 2)),
])
def test_parse_value(text, expected):
    assert parse_value(text) == expected


@pytest.mark.parametrize("text, kind", [("3", int), ("3.0", float), ("true", bool)])
def test_parse_value_type(text, kind):
    assert type(parse_value(text)) is kind


def test_parse_setting_splits_at_first_equals():
    assert parse_setting("betas=0.9,0.99") == ("betas", (0.9, 0.99))


@pytest.mark.parametrize("argv, message", [
    (("--lr", "-0.1"), "invalid Adam lr: -0.1"),
    (("--betas", "0.9,1.0"), r"invalid Adam betas\[1\]: 1.0 \(expected a number in \[0, 1\)\)"),
    (("--betas", "0.9"), "invalid Adam betas: 0.9"),
    (("--betas", "fast"), "invalid --betas: 'fast'"),
    (("--optimizer", "adamm"), "invalid optimizer: 'adamm' \\(expected one of"),
    (("--optimizer", "lbfgs"), "needs a closure"),
    (("--optimizer", "sparseadam"), "sparse gradients"),
    (("--set", "nesterov=true"), "invalid Adam hyper-parameter: 'nesterov'"),
    (("--optimizer", "sgd", "--set", "nesterov=true"), "Nesterov momentum needs momentum > 0"),
    (("--momentum", "0.9"), "invalid Adam hyper-parameter: 'momentum'"),
    (("--set", "amsgrad"), "invalid --set: 'amsgrad' \\(expected KEY=VALUE"),
    (("--set", "=1"), "invalid --set: '=1'"),
    (("--set", "amsgrad=yes"), "invalid --set value for amsgrad: 'yes'"),
    (("--set", "amsgrad=1"), "invalid Adam amsgrad: 1 \\(expected true or false\\)"),
    (("--set", "capturable=true"), "not available on this device"),
    (("--device", "nowhere"), "invalid device: 'nowhere'"),
    (("--optimizer", "rprop", "--set", "etas=1.5,0.5"), "0 < etaminus < 1 < etaplus"),
])
def test_invalid_values_are_rejected(argv, message):
    with pytest.raises(ScenarioError, match=message):
        scenario(*argv)


def test_unparsable_lr_exits_with_usage_error():
    with pytest.raises(SystemExit) as exit_info:
        scenario("--lr", "fast")

    assert exit_info.value.code == 2


def test_namespace_without_optimizer_options_keeps_preset():
    args = argparse.Namespace(preset="linear", reference=None, dtype=None, rtol=None, atol=None)

    assert scenario_from_args(args).hyperparameters == {"lr": 0.1, "betas": (0.9, 0.99),
                                                        "eps": 1e-8}
