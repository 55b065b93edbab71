"""The Stepper with every rule: groups, tensor hyper-parameters, skipped and zero gradients,
complex and low-precision parameters, foreach and fused, non-finite values, wrong rules."""

from __future__ import annotations

import math

import pytest
import torch

from optimstep.core import RULES, Scenario, Stepper, Tolerance
from optimstep.core.rules.adam import Adam
from optimstep.core.rules.base import RuleOutput

DEFAULTS = {
    "adam": {"lr": 0.1}, "adamw": {"lr": 0.1, "weight_decay": 0.1}, "nadam": {"lr": 0.1},
    "radam": {"lr": 0.1}, "adamax": {"lr": 0.1}, "sgd": {"lr": 0.1, "momentum": 0.9},
    "rmsprop": {"lr": 0.01, "momentum": 0.5, "centered": True}, "adagrad": {"lr": 0.1},
    "adadelta": {"lr": 1.0}, "asgd": {"lr": 0.1}, "rprop": {"lr": 0.1},
}
"""A configuration per optimizer that exercises its state."""

FUSED = sorted(name for name in RULES if "fused" in RULES[name].limits)

STEPS = 8
"""Steps of the matrix tests; the property tests run longer."""


def mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    diff = outputs - targets
    return (torch.view_as_real(diff) if diff.is_complex() else diff).pow(2).mean()


def linear(dtype: torch.dtype = torch.float32, seed: int = 0):
    """A Linear(3, 2) model and two batches."""
    generator = torch.Generator().manual_seed(seed)
    model = torch.nn.Linear(3, 2, dtype=dtype)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator, dtype=dtype))
    batches = [(torch.randn(4, 3, generator=generator, dtype=dtype),
                torch.randn(4, 2, generator=generator, dtype=dtype)) for _ in range(2)]
    return model, batches


def stepper(name: str, dtype=torch.float32, reference="torch", **hyperparameters) -> Stepper:
    model, batches = linear(dtype)
    optimizer = RULES[name].optimizer_class(model.parameters(),
                                            **{**DEFAULTS[name], **hyperparameters})
    return Stepper(model, optimizer, mse, batches, reference=reference)


def all_passed(records) -> bool:
    return all(record.passed for record in records)


@pytest.mark.parametrize("name", sorted(RULES))
def test_param_groups_with_own_hyperparameters_pass(name):
    model, batches = linear()
    lr = DEFAULTS[name]["lr"]
    groups = [{"params": [model.weight]}, {"params": [model.bias], "lr": lr / 2}]
    optimizer = RULES[name].optimizer_class(groups, **DEFAULTS[name])

    records = Stepper(model, optimizer, mse, batches).run(20)

    assert all_passed(records)
    assert records[0].hyperparameters[1]["lr"] == lr / 2


def test_param_groups_with_other_betas_pass():
    model, batches = linear()
    groups = [{"params": [model.weight], "betas": (0.5, 0.9)},
              {"params": [model.bias], "betas": (0.95, 0.999), "weight_decay": 0.1}]
    optimizer = torch.optim.Adam(groups, lr=0.1)

    records = Stepper(model, optimizer, mse, batches).run(20)

    assert all_passed(records)


@pytest.mark.parametrize("name", sorted(RULES))
def test_tensor_lr_passes(name):
    lr = torch.tensor(DEFAULTS[name]["lr"])

    assert all_passed(stepper(name, lr=lr).run(STEPS))


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_tensor_lr_and_betas_pass(dtype):
    betas = (torch.tensor(0.9), torch.tensor(0.99))

    records = stepper("adam", dtype, lr=torch.tensor(0.05), betas=betas, amsgrad=True).run(20)

    assert all_passed(records)


@pytest.mark.parametrize("name", sorted(RULES))
def test_parameter_without_gradient_is_skipped(name):
    model, batches = linear()
    model.bias.requires_grad_(False)
    optimizer = RULES[name].optimizer_class(model.parameters(), **DEFAULTS[name])

    record = Stepper(model, optimizer, mse, batches).step()

    assert record.param("bias").skipped
    assert record.passed
    assert not [check for check in record.checks if check.name.startswith("bias.")]


def test_skipped_parameter_gets_no_state():
    model, batches = linear()
    model.bias.requires_grad_(False)
    optimizer = torch.optim.Adam(model.parameters())

    record = Stepper(model, optimizer, mse, batches).step()

    assert dict(record.param("bias").state) == {}


def test_skipped_parameter_keeps_its_value():
    model, batches = linear()
    model.bias.requires_grad_(False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    record = Stepper(model, optimizer, mse, batches).step()

    assert torch.equal(record.param("bias").before, record.param("bias").after)


@pytest.mark.parametrize("name", sorted(RULES))
def test_zero_gradient_passes(name):
    model, _ = linear()
    batches = [(torch.zeros(4, 3), model(torch.zeros(4, 3)).detach())]
    optimizer = RULES[name].optimizer_class(model.parameters(), **DEFAULTS[name])

    records = Stepper(model, optimizer, mse, batches).run(5)

    assert all_passed(records)
    assert not records[0].param("weight").grad.any()


@pytest.mark.parametrize("implementation", ["single", "foreach"])
@pytest.mark.parametrize("name", sorted(RULES))
def test_complex_parameters_pass(name, implementation):
    flags = {"foreach": True} if implementation == "foreach" else {}
    # Weight decay runs on the complex tensors in the single-tensor path.
    if "weight_decay" in RULES[name].limits:
        flags["weight_decay"] = 0.1

    assert all_passed(stepper(name, torch.complex64, **flags).run(STEPS))


def test_complex_terms_are_real_pairs():
    record = stepper("adam", torch.complex64).step()

    term = record.param("weight").term("m")

    assert term.value.shape == (2, 3, 2)


def test_complex_computed_update_is_complex():
    record = stepper("sgd", torch.complex64).step()

    assert record.param("weight").computed_update.is_complex()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", sorted(RULES))
def test_dtypes_pass_with_default_tolerance(name, dtype):
    records = stepper(name, dtype).run(STEPS)

    assert all_passed(records)
    assert records[0].checks[0].tolerance == Tolerance.for_dtype(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", sorted(RULES))
def test_foreach_passes(name, dtype):
    assert all_passed(stepper(name, dtype, foreach=True).run(STEPS))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", FUSED)
def test_fused_passes(name, dtype):
    assert all_passed(stepper(name, dtype, fused=True).run(STEPS))


def test_fused_is_exact_in_bfloat16():
    records = stepper("adam", torch.bfloat16, fused=True, weight_decay=0.1).run(20)

    assert max(check.max_ulp for record in records for check in record.checks) == 0


def test_fused_optimizers_are_adam_adamw_sgd_adagrad():
    assert FUSED == ["adagrad", "adam", "adamw", "sgd"]


def nan_stepper(name: str) -> Stepper:
    """A stepper whose second batch makes every gradient nan."""
    model, batches = linear()
    batches[1] = (torch.full((4, 3), math.nan), batches[1][1])
    optimizer = RULES[name].optimizer_class(model.parameters(), **DEFAULTS[name])
    return Stepper(model, optimizer, mse, batches)


@pytest.mark.parametrize("name", sorted(RULES))
def test_nan_gradient_matches_nan(name):
    records = nan_stepper(name).run(3)
    weight = records[1].param("weight")

    assert all_passed(records)
    assert weight.after.isnan().any() or any(v.isnan().any() for v in weight.state.values())


def test_injected_inf_state_fails_carried_checks():
    step = stepper("adam")
    step.step()
    param = step.model.weight
    step.optimizer.state[param]["exp_avg_sq"][0, 0] = math.inf

    record = step.step()

    assert all(check.passed for check in record.checks if check.mode == "single")
    assert [check.name for check in record.failures] == ["weight.param", "weight.exp_avg_sq"]


def test_injected_inf_state_counts_nonfinite_mismatch():
    step = stepper("adam")
    step.step()
    step.optimizer.state[step.model.weight]["exp_avg_sq"][0, 0] = math.inf

    record = step.step()
    moment = [check for check in record.failures if check.name == "weight.exp_avg_sq"]

    assert moment[0].nonfinite_mismatches == 1


class FlippedSign(Adam):
    """A wrong rule: applies the update with the opposite sign."""

    def step(self, param, grad, state, group) -> RuleOutput:
        output = super().step(param, grad, state, group)
        after = param - output.update
        return RuleOutput(output.terms, output.state, after, after - param)


class NoBiasCorrection(Adam):
    """A wrong rule: Adam without bias correction, θ ← θ − γ·m / (√v + ε)."""

    def _apply(self, theta, m, v_used, t, scalars, terms, amsgrad=False):
        lr, _, _, eps = scalars
        return theta.addcdiv(m, v_used.sqrt().add(eps), value=-lr)


class NanInsteadOfZero(Adam):
    """A wrong rule: returns nan wherever torch's moment is finite."""

    def step(self, param, grad, state, group) -> RuleOutput:
        output = super().step(param, grad, state, group)
        new_state = {**output.state, "exp_avg": torch.full_like(output.state["exp_avg"],
                                                                math.nan)}
        return RuleOutput(output.terms, new_state, output.param, output.update)


@pytest.mark.parametrize("wrong", [FlippedSign, NoBiasCorrection, NanInsteadOfZero])
def test_wrong_rule_fails_on_default_scenario(wrong):
    built = Scenario().build()
    step = Stepper(built.model, built.optimizer, built.loss_fn, built.batches, rule=wrong())

    records = step.run(3)

    assert not all_passed(records)


def test_missing_bias_correction_fails_the_parameter_check():
    built = Scenario().build()
    step = Stepper(built.model, built.optimizer, built.loss_fn, built.batches,
                   rule=NoBiasCorrection())

    # With β = (0.9, 0.99), (1 − β1) / √(1 − β2) = 1 hides the omission at step 1 only.
    second = step.run(2)[1]

    assert {check.name for check in second.failures} == {"weight.param", "bias.param"}


@pytest.mark.parametrize("name", sorted(RULES))
def test_flipped_sign_fails_for_every_rule(name):
    base = RULES[name]

    class Flipped(base):
        def step(self, param, grad, state, group) -> RuleOutput:
            output = super().step(param, grad, state, group)
            after = param - output.update
            return RuleOutput(output.terms, output.state, after, after - param)

    model, batches = linear()
    optimizer = base.optimizer_class(model.parameters(), **DEFAULTS[name])

    record = Stepper(model, optimizer, mse, batches, rule=Flipped()).step()

    assert "weight.param" in {check.name for check in record.failures}


@pytest.mark.parametrize("name", sorted(RULES))
def test_textbook_flavour_passes_in_float32(name):
    records = stepper(name, reference="textbook").run(20)

    assert all_passed(records)


def test_textbook_flavour_is_recorded():
    record = stepper("adam", reference="textbook").step()

    assert record.reference == "textbook"


def test_textbook_terms_are_float64():
    record = stepper("adam", torch.float16, reference="textbook").step()

    assert record.param("weight").term("m").value.dtype == torch.float64


def test_torch_flavour_is_bit_exact_on_default_scenario():
    records = Stepper.from_scenario(Scenario()).run(101)

    assert max(check.max_ulp for record in records for check in record.checks) == 0
