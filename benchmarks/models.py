"""The scenarios the benchmarks step: the default one, and MLPs of about 100k and 1M parameters."""

from __future__ import annotations

from dataclasses import dataclass

from optimstep.core import Scenario, preset
from optimstep.core.data import Synthetic
from optimstep.core.presets import ADAM_DEFAULTS


def mlp(width: int, samples: int) -> Scenario:
    """Return Sequential(Linear(width, width), ReLU, Linear(width, 1)) under Adam on one batch.

    With one small batch, forward and backward are cheap, so the optimizer step, and with it
    the check, takes most of a step: the hardest case for the check's overhead.
    """
    return Scenario(
        name=f"mlp-{width}",
        description=f"{width}-{width}-1 ReLU MLP, one batch of {samples} seeded samples",
        model="mlp",
        in_features=width,
        model_options={"hidden": (width,), "activation": "relu"},
        parameters={},
        data=Synthetic("regression", samples=samples, features=width),
        hyperparameters=dict(ADAM_DEFAULTS),
        steps=20)


@dataclass(frozen=True)
class Model:
    """A scenario the benchmarks run, with the label the results page gives it."""

    label: str
    """Its name on the results page, e.g. `1,002,001 parameters (1000-1000-1 MLP, batch 8)`."""
    scenario: Scenario
    """The scenario to build and step."""


def parameter_count(scenario: Scenario) -> int:
    """Return the number of parameters the scenario's model has."""
    return sum(p.numel() for p in scenario.build().model.parameters())


def default() -> Model:
    """Return the default scenario: Linear(1, 1) under Adam, two one-element parameters."""
    return Model("default scenario (2 parameters)", Scenario())


def small_mlp(width: int = 316, samples: int = 8) -> Model:
    """Return an MLP of about 100k parameters (100,489 at width 316)."""
    scenario = mlp(width, samples)
    return Model(_mlp_label(scenario, width, samples), scenario)


def large_mlp(width: int = 1000, samples: int = 8) -> Model:
    """Return an MLP of about 1M parameters (1,002,001 at width 1000)."""
    scenario = mlp(width, samples)
    return Model(_mlp_label(scenario, width, samples), scenario)


def large_preset() -> Model:
    """Return the `large-mlp` preset: 1,051,137 parameters, batches of 128 samples."""
    scenario = preset("large-mlp")
    return Model(f"`large-mlp` preset ({parameter_count(scenario):,} parameters, batch 128)",
                 scenario)


def _mlp_label(scenario: Scenario, width: int, samples: int) -> str:
    return f"{parameter_count(scenario):,} parameters ({width}-{width}-1 MLP, batch {samples})"
