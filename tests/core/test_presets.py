"""Built-in scenarios: each builds, steps with every check passing, and is deterministic."""

import dataclasses

import pytest
import torch

from optimstep.core import PRESETS, Scenario, Stepper, preset
from optimstep.core.models import count_parameters

STEPS = {name: 2 if name == "large-mlp" else 5 for name in PRESETS}


@pytest.fixture(scope="module", params=list(PRESETS))
def run(request):
    name = request.param
    stepper = Stepper.from_scenario(preset(name))
    return name, stepper, stepper.run(STEPS[name])


def test_preset_steps_pass_every_check(run):
    _, _, records = run
    assert [r.step for r in records if not r.passed] == []


def test_preset_checks_every_parameter(run):
    _, stepper, records = run
    assert {p.name for p in records[0].params} == {n for n, _ in stepper.model.named_parameters()}


def test_preset_loss_is_finite(run):
    _, _, records = run
    assert all(torch.isfinite(torch.tensor(r.loss)) for r in records)


@pytest.mark.parametrize("name", [n for n in PRESETS if n != "large-mlp"])
def test_preset_is_deterministic(name):
    first = Stepper.from_scenario(preset(name)).run(3)
    second = Stepper.from_scenario(preset(name)).run(3)
    assert [r.loss for r in first] == [r.loss for r in second]
    assert all(torch.equal(a.after, b.after)
               for a, b in zip(first[-1].params, second[-1].params))


def test_linear_preset_is_default_scenario():
    assert dataclasses.replace(preset("linear"), description="") == Scenario()


def test_default_preset_is_linear():
    assert preset() is PRESETS["linear"]


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_has_description(name):
    assert PRESETS[name].description.strip() != ""


def test_rosenbrock_parameters_are_the_point():
    stepper = Stepper.from_scenario(preset("rosenbrock"))
    assert [name for name, _ in stepper.model.named_parameters()] == ["x", "y"]


def test_rosenbrock_loss_is_function_value():
    record = Stepper.from_scenario(preset("rosenbrock")).step()
    x, y = record.param("x").before.item(), record.param("y").before.item()
    assert record.loss == pytest.approx((1 - x) ** 2 + 100 * (y - x**2) ** 2, rel=1e-6)


def test_rosenbrock_descends_over_preset_steps():
    scenario = preset("rosenbrock")
    records = Stepper.from_scenario(scenario).run(scenario.steps)
    assert records[-1].loss < records[0].loss / 100


def test_mlp_has_a_few_thousand_parameters():
    stepper = Stepper.from_scenario(preset("mlp"))
    assert 1_000 <= count_parameters(stepper.model) <= 10_000


def test_mlp_cycles_several_batches():
    assert len(Stepper.from_scenario(preset("mlp")).batches) > 1


def test_large_mlp_has_about_a_million_parameters():
    built = preset("large-mlp").build()
    assert 900_000 <= count_parameters(built.model) <= 1_200_000


def test_logistic_targets_are_binary_labels():
    built = preset("logistic").build()
    labels = torch.cat([targets for _, targets in built.batches])
    assert set(labels.unique().tolist()) == {0.0, 1.0}


def test_logistic_uses_bce_with_logits():
    assert isinstance(preset("logistic").build().loss_fn, torch.nn.BCEWithLogitsLoss)


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match="expected one of linear, rosenbrock"):
        preset("nope")
