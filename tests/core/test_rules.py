"""Unit tests of the reference rules: registry, declarations, limits and initial state."""

from __future__ import annotations

import inspect

import pytest
import torch

from optimstep.core import RULES, rule_for
from optimstep.core.rules import UNSUPPORTED
from optimstep.core.rules.base import implementation, scale

# One configuration per optimizer that makes every optional term appear.
FULL = {
    "adam": {"lr": 0.1, "amsgrad": True, "weight_decay": 0.1},
    "adamw": {"lr": 0.1, "amsgrad": True},
    "nadam": {"lr": 0.1, "weight_decay": 0.1},
    "radam": {"lr": 0.1, "betas": (0.9, 0.99)},
    "adamax": {"lr": 0.1},
    "sgd": {"lr": 0.1, "momentum": 0.9},
    "rmsprop": {"lr": 0.01, "momentum": 0.9, "centered": True},
    "adagrad": {"lr": 0.1},
    "adadelta": {"lr": 1.0},
    "asgd": {"lr": 0.1},
    "rprop": {"lr": 0.1},
}


def torch_step(name: str, hyperparameters: dict, steps: int = 1):
    """Return a parameter and its optimizer after `steps` torch steps on a fixed gradient."""
    param = torch.nn.Parameter(torch.tensor([0.5, -1.0, 2.0]))
    optimizer = RULES[name].optimizer_class([param], **hyperparameters)
    for _ in range(steps):
        param.grad = torch.tensor([0.3, -0.2, 0.1])
        optimizer.step()
    return param, optimizer


def rule_terms(name: str, hyperparameters: dict, steps: int = 8) -> set[str]:
    """Return the names of the terms the rule computes over `steps` steps (RAdam rectifies
    from step 6 with β2 = 0.99)."""
    param, optimizer = torch_step(name, hyperparameters)
    rule = rule_for(optimizer)
    group = {k: v for k, v in optimizer.param_groups[0].items() if k != "params"}
    state = rule.initial_state(param.detach(), group)
    names = set()
    for _ in range(steps):
        output = rule.step(param.detach(), torch.tensor([0.3, -0.2, 0.1]), state, group)
        names |= {term.name for term in output.terms}
        state = output.state
    return names


def test_registry_covers_the_optimizers():
    expected = {"adam", "adamw", "nadam", "radam", "adamax", "sgd", "rmsprop", "adagrad",
                "adadelta", "asgd", "rprop"}

    assert set(RULES) == expected


@pytest.mark.parametrize("name", sorted(RULES))
def test_rule_is_registered_under_its_name(name):
    assert RULES[name].name == name


@pytest.mark.parametrize("name", sorted(RULES))
def test_rule_docstring_names_its_torch_source(name):
    assert f"torch/optim/{name}.py" in RULES[name].__doc__


@pytest.mark.parametrize("name", sorted(RULES))
def test_rule_for_finds_the_rule(name):
    assert type(rule_for(RULES[name].optimizer_class)) is RULES[name]


@pytest.mark.parametrize("name", sorted(RULES))
def test_limits_match_torch_keywords(name):
    rule = RULES[name]
    keywords = set(inspect.signature(rule.optimizer_class.__init__).parameters) - {"self",
                                                                                   "params"}

    assert set(rule.limits) == keywords


@pytest.mark.parametrize("name", sorted(RULES))
def test_hyperparameters_are_torch_keywords(name):
    rule = RULES[name]

    assert set(rule.hyperparameters) <= set(rule.limits)


@pytest.mark.parametrize("name", sorted(RULES))
def test_panels_name_computed_terms(name):
    computed = rule_terms(name, FULL[name])
    panelled = {term for _, names in RULES[name].panels for term in names}

    assert panelled <= computed


@pytest.mark.parametrize("name", sorted(RULES))
def test_panels_are_declared(name):
    assert RULES[name].panels


def test_sgd_panel_shows_momentum_buffer():
    assert ("Momentum", ("momentum_buffer",)) in RULES["sgd"].panels


@pytest.mark.parametrize("name", sorted(RULES))
def test_initial_state_matches_torch_keys(name):
    param, optimizer = torch_step(name, FULL[name])
    group = optimizer.param_groups[0]

    state = rule_for(optimizer).initial_state(param.detach(), group)

    # SGD creates its momentum buffer on the first step, from the gradient.
    assert set(state) | ({"momentum_buffer"} if name == "sgd" else set()) == set(
        optimizer.state[param])


@pytest.mark.parametrize("name", sorted(RULES))
def test_initial_state_matches_torch_dtypes(name):
    param, optimizer = torch_step(name, FULL[name])
    torch_state = optimizer.state[param]

    state = rule_for(optimizer).initial_state(param.detach(), optimizer.param_groups[0])

    assert {k: v.dtype for k, v in state.items()} == {
        k: torch_state[k].dtype for k in state}


def test_adagrad_initial_state_equals_torch_before_a_step():
    param = torch.nn.Parameter(torch.zeros(3, dtype=torch.complex64))
    optimizer = torch.optim.Adagrad([param], initial_accumulator_value=0.25)

    state = rule_for(optimizer).initial_state(param.detach(), optimizer.param_groups[0])

    assert torch.equal(state["sum"], optimizer.state[param]["sum"])


def test_rprop_initial_step_size_fills_complex_parts():
    param = torch.zeros(2, dtype=torch.complex64)

    state = RULES["rprop"]().initial_state(param, {"lr": 0.25})

    assert torch.equal(torch.view_as_real(state["step_size"]), torch.full((2, 2), 0.25))


@pytest.mark.parametrize("name", sorted(RULES))
def test_step_leaves_inputs_unchanged(name):
    param, optimizer = torch_step(name, FULL[name], steps=2)
    group = optimizer.param_groups[0]
    state = {k: v.clone() for k, v in optimizer.state[param].items()}
    inputs = (param.detach().clone(), torch.tensor([0.3, -0.2, 0.1]),
              {k: v.clone() for k, v in state.items()})

    rule_for(optimizer).step(inputs[0], inputs[1], inputs[2], group)

    assert torch.equal(inputs[0], param.detach())
    assert all(torch.equal(inputs[2][k], state[k]) for k in state)


def test_adamw_rule_is_chosen_over_adam():
    param = torch.nn.Parameter(torch.zeros(1))

    assert rule_for(torch.optim.AdamW([param])).name == "adamw"


@pytest.mark.parametrize("optimizer, reason", [(torch.optim.LBFGS, "closure"),
                                               (torch.optim.SparseAdam, "sparse gradients")])
def test_rule_for_explains_unsupported_optimizers(optimizer, reason):
    with pytest.raises(ValueError, match=reason):
        rule_for(optimizer)


def test_unsupported_names_are_not_rules():
    assert not set(UNSUPPORTED) & set(RULES)


def test_rule_rejects_unknown_flavour():
    with pytest.raises(ValueError, match="flavour"):
        RULES["sgd"]("paper")


@pytest.mark.parametrize("name, values, message", [
    ("adam", {"nesterov": True}, "invalid Adam hyper-parameter: 'nesterov'"),
    ("adam", {"lr": -0.1}, "invalid Adam lr: -0.1"),
    ("adam", {"lr": float("nan")}, "invalid Adam lr: nan"),
    ("adam", {"betas": (0.9, 1.0)}, r"invalid Adam betas\[1\]: 1.0"),
    ("adam", {"betas": (-0.1, 0.9)}, r"invalid Adam betas\[0\]: -0.1"),
    ("adam", {"betas": 0.9}, "invalid Adam betas: 0.9"),
    ("adam", {"amsgrad": 1}, "invalid Adam amsgrad: 1"),
    ("adam", {"eps": -1e-8}, "invalid Adam eps"),
    ("adam", {"fused": True, "foreach": True}, "fused=True with foreach=True"),
    ("nadam", {"betas": (torch.tensor(0.9), torch.tensor(0.99))}, "invalid NAdam betas"),
    ("sgd", {"lr": 0.1, "nesterov": True}, "Nesterov momentum needs momentum > 0"),
    ("sgd", {"momentum": 0.9, "dampening": 0.5, "nesterov": True}, "dampening = 0"),
    ("sgd", {"dampening": 1.5}, "invalid SGD dampening: 1.5"),
    ("rmsprop", {"alpha": 1.5}, "invalid RMSprop alpha: 1.5"),
    ("adagrad", {"initial_accumulator_value": -1}, "invalid Adagrad initial_accumulator_value"),
    ("adadelta", {"rho": 2.0}, "invalid Adadelta rho: 2.0"),
    ("asgd", {"t0": -1.0}, "invalid ASGD t0: -1.0"),
    ("rprop", {"etas": (1.2, 0.5)}, "0 < etaminus < 1 < etaplus"),
    ("rprop", {"step_sizes": (1.0, 0.1)}, "min <= max"),
    ("adamax", {"capturable": "yes"}, "invalid Adamax capturable: 'yes'"),
])
def test_check_hyperparameters_rejects(name, values, message):
    with pytest.raises(ValueError, match=message):
        RULES[name].check_hyperparameters(values)


def test_check_hyperparameters_turns_ints_into_floats():
    checked = RULES["sgd"].check_hyperparameters({"lr": 1, "momentum": 0})

    assert checked == {"lr": 1.0, "momentum": 0.0}
    assert all(type(value) is float for value in checked.values())


def test_check_hyperparameters_accepts_tensor_lr():
    lr = torch.tensor(0.01)

    assert RULES["rmsprop"].check_hyperparameters({"lr": lr})["lr"] is lr


def test_check_hyperparameters_accepts_tensor_betas_for_adam():
    betas = (torch.tensor(0.9), torch.tensor(0.99))

    assert RULES["adam"].check_hyperparameters({"betas": betas})["betas"] == betas


def test_check_hyperparameters_accepts_none_for_foreach():
    assert RULES["adam"].check_hyperparameters({"foreach": None}) == {"foreach": None}


@pytest.mark.parametrize("flags, expected", [
    ({}, "single"), ({"foreach": True}, "foreach"), ({"fused": True}, "fused"),
    ({"foreach": False}, "single"), ({"fused": False, "foreach": True}, "foreach"),
])
def test_implementation_follows_flags_on_cpu(flags, expected):
    assert implementation(torch.zeros(1), flags) == expected


def test_scale_rounds_factor_for_foreach_in_bfloat16():
    tensor = torch.tensor([1.0], dtype=torch.bfloat16)

    # 0.9 rounds to 0.8984375 in bfloat16, as torch's foreach kernels round it.
    assert scale(tensor, 0.9, foreach=True).item() == 0.8984375


def test_scale_keeps_factor_without_foreach():
    tensor = torch.tensor([1.0], dtype=torch.bfloat16)

    assert scale(tensor, 0.9, foreach=False).item() == torch.tensor(0.9, dtype=torch.bfloat16).item()
