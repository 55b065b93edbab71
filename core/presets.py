"""Built-in scenarios by name, each seeded so that it steps the same way on every run."""

from __future__ import annotations

from .data import Synthetic
from .scenario import Scenario

ADAM_DEFAULTS = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8}
"""torch.optim.Adam's own defaults (torch 2.x)."""

PRESETS: dict[str, Scenario] = {
    "linear": Scenario(
        description="y = w·x + b on two points, Adam(lr=0.1, betas=(0.9, 0.99))"),
    "rosenbrock": Scenario(
        name="rosenbrock",
        description="2-D Rosenbrock valley from (-1.2, 1); momentum and per-parameter steps",
        model="rosenbrock",
        parameters={"x": -1.2, "y": 1.0},
        batches=(([0.0], [0.0]),),
        loss="output",
        hyperparameters={"lr": 0.1, "betas": (0.9, 0.99), "eps": 1e-8},
        steps=500),
    "mlp": Scenario(
        name="mlp",
        description="8-64-32-1 tanh MLP, 2,689 parameters, 256 seeded samples in 4 batches",
        model="mlp",
        in_features=8,
        model_options={"hidden": (64, 32), "activation": "tanh"},
        parameters={},
        data=Synthetic("regression", samples=256, features=8),
        batch_size=64,
        shuffle=True,
        hyperparameters={**ADAM_DEFAULTS, "lr": 0.01},
        steps=200),
    "logistic": Scenario(
        name="logistic",
        description="logistic regression, BCE with logits, 200 seeded points in 4 batches",
        in_features=2,
        parameters={},
        data=Synthetic("classification", samples=200, features=2),
        batch_size=50,
        loss="bce_with_logits",
        hyperparameters={**ADAM_DEFAULTS, "lr": 0.05},
        steps=100),
    "large-mlp": Scenario(
        name="large-mlp",
        description="256-1024-768-1 ReLU MLP, 1,051,137 parameters, for speed checks",
        model="mlp",
        in_features=256,
        model_options={"hidden": (1024, 768), "activation": "relu"},
        parameters={},
        data=Synthetic("regression", samples=512, features=256),
        batch_size=128,
        hyperparameters=dict(ADAM_DEFAULTS),
        steps=20),
}
"""Built-in scenarios; `linear` is the default scenario."""

DEFAULT_PRESET = "linear"


def preset(name: str = DEFAULT_PRESET) -> Scenario:
    """Return the built-in scenario called `name`."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset: {name!r} (expected one of "
                         f"{', '.join(PRESETS)})") from None
