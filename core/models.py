"""Model kinds a scenario can name, with their options and how each one is built."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .scenario import ScenarioError

ACTIVATIONS: dict[str, Callable[[], torch.nn.Module]] = {
    "tanh": torch.nn.Tanh,
    "relu": torch.nn.ReLU,
    "gelu": torch.nn.GELU,
    "sigmoid": torch.nn.Sigmoid,
}
"""Activations an `mlp` may use between its layers."""


class Rosenbrock(torch.nn.Module):
    """The Rosenbrock function f(x, y) = (a − x)² + b·(y − x²)², with (x, y) as parameters.

    The parameters `x` and `y` are 0-d tensors. `forward` ignores its input and returns f at
    the current point, so the `output` loss minimises f itself. The minimum is f(a, a²) = 0
    at the end of a long curved valley, where momentum and per-parameter step sizes show.
    """

    def __init__(self, a: float = 1.0, b: float = 100.0) -> None:
        super().__init__()
        self.a = a
        self.b = b
        # The classic starting point (Rosenbrock, 1960).
        self.x = torch.nn.Parameter(torch.tensor(-1.2))
        self.y = torch.nn.Parameter(torch.tensor(1.0))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return (self.a - self.x) ** 2 + self.b * (self.y - self.x**2) ** 2


def _is_int(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_float(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and float("-inf") < value < float("inf")


def _is_widths(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) >= 1 \
        and all(_is_int(width, 1) for width in value)


@dataclass(frozen=True)
class Option:
    """One option of a model kind: its default and which values are valid."""

    default: Any
    """Value used when the scenario does not set the option."""
    allowed: str
    """Valid values in words, for error messages."""
    valid: Callable[[Any], bool]
    """Whether a value is valid."""


@dataclass(frozen=True)
class ModelKind:
    """A kind of model a scenario can name."""

    name: str
    """Name used in scenarios, e.g. `mlp`."""
    description: str
    """One line for help text."""
    options: Mapping[str, Option]
    """Options beyond `in_features` and `out_features`, by name."""
    build: Callable[..., torch.nn.Module]
    """Builder called with in_features, out_features and the options as keywords."""
    uses_features: bool = True
    """Whether `in_features` and `out_features` size the model."""
    loss: str | None = None
    """The loss the model needs, e.g. `output` for a model that computes its objective."""


def _linear(in_features: int, out_features: int) -> torch.nn.Module:
    return torch.nn.Linear(in_features, out_features)


def _mlp(in_features: int, out_features: int, hidden: tuple[int, ...],
         activation: str) -> torch.nn.Module:
    # Named layers give readable parameter names: hidden1.weight, ..., output.bias.
    layers: OrderedDict[str, torch.nn.Module] = OrderedDict()
    width = in_features
    for index, size in enumerate(hidden, start=1):
        layers[f"hidden{index}"] = torch.nn.Linear(width, size)
        layers[f"activation{index}"] = ACTIVATIONS[activation]()
        width = size
    layers["output"] = torch.nn.Linear(width, out_features)
    return torch.nn.Sequential(layers)


def _rosenbrock(in_features: int, out_features: int, a: float, b: float) -> torch.nn.Module:
    return Rosenbrock(a, b)


MODELS: dict[str, ModelKind] = {
    kind.name: kind for kind in (
        ModelKind("linear", "torch.nn.Linear(in_features, out_features)", {}, _linear),
        ModelKind("mlp", "Linear layers of the `hidden` widths with an activation between them",
                  {"hidden": Option((32,), "a list of layer widths, each an integer >= 1",
                                    _is_widths),
                   "activation": Option("tanh", f"one of {', '.join(ACTIVATIONS)}",
                                        lambda value: value in ACTIVATIONS)},
                  _mlp),
        ModelKind("rosenbrock", "the 2-D Rosenbrock function; the parameters are the point "
                                "(x, y)",
                  {"a": Option(1.0, "a finite number", _is_float),
                   "b": Option(100.0, "a finite number", _is_float)},
                  _rosenbrock, uses_features=False, loss="output"),
    )
}
"""Every model kind by name."""


def model_options(kind: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Return a kind's options with defaults filled in; raise ScenarioError on a bad one."""
    if kind not in MODELS:
        raise ScenarioError(f"invalid model: {kind!r} (expected one of {', '.join(MODELS)})")
    spec = MODELS[kind].options
    for key, value in options.items():
        if key not in spec:
            allowed = ", ".join(spec) if spec else f"no options for {kind}"
            raise ScenarioError(f"unknown key model.{key} = {value!r} (expected {allowed})")
        if not spec[key].valid(value):
            raise ScenarioError(f"invalid model.{key}: {value!r} (expected {spec[key].allowed})")

    merged = {key: option.default for key, option in spec.items()}
    merged.update(options)
    if "hidden" in merged:
        merged["hidden"] = tuple(merged["hidden"])
    return merged


def build_model(kind: str, in_features: int, out_features: int,
                options: Mapping[str, Any]) -> torch.nn.Module:
    """Build a model of `kind` in float32 on the CPU, from torch's RNG as currently seeded."""
    return MODELS[kind].build(in_features, out_features, **model_options(kind, options))


def count_parameters(model: torch.nn.Module) -> int:
    """Return the number of scalar parameters of a model."""
    return sum(p.numel() for p in model.parameters())
