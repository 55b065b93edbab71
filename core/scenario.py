"""Scenarios: validated, declarative descriptions of what to step, and how to build them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch

from .checks import Tolerance
from .rules import FLAVOURS, RULES, UNSUPPORTED, Rule

DTYPES: dict[str, torch.dtype] = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}
"""Parameter dtypes a scenario may ask for, by name."""


class OutputLoss(torch.nn.Module):
    """The model's output summed, as the loss of models that compute their own objective."""

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return output.sum()


LOSSES: dict[str, Callable[[], torch.nn.Module]] = {
    "mse": torch.nn.MSELoss,
    "l1": torch.nn.L1Loss,
    "bce_with_logits": torch.nn.BCEWithLogitsLoss,
    "output": OutputLoss,
}
"""Loss functions a scenario may name."""


CAPTURABLE_DEVICES = ("cuda", "xpu", "hpu", "xla")
"""Device types on which torch allows `capturable=True` (torch/optim/optimizer.py, 2.13)."""


class ScenarioError(ValueError):
    """A scenario field holds an invalid value; the message names the field and what is allowed."""


@dataclass(frozen=True)
class Built:
    """The live objects a scenario builds: what a Stepper runs."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    batches: tuple[tuple[torch.Tensor, torch.Tensor], ...]
    rule: Rule | None = None
    """Reference rule chosen by the scenario; None lets the Stepper pick the optimizer's own."""


@dataclass(frozen=True)
class Scenario:
    """What to step: a linear model, its data, loss, optimizer and checks.

    The defaults are the default scenario: `Linear(1, 1)` with w = -0.5 and b = 1.0 fitted
    to x = [1, 2], y = [1, 2] under MSE loss by Adam(lr=0.1, betas=(0.9, 0.99), eps=1e-8).
    """

    name: str = "linear"
    """Short name shown in the header."""
    in_features: int = 1
    """Inputs of the linear model."""
    out_features: int = 1
    """Outputs of the linear model."""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"weight": [[-0.5]], "bias": [1.0]})
    """Initial parameter values by name; parameters left out keep the seeded init."""
    batches: tuple[tuple[Any, Any], ...] = (([[1.0], [2.0]], [[1.0], [2.0]]),)
    """(inputs, targets) pairs, cycled in order, one per step."""
    loss: str = "mse"
    """Loss function name, one of LOSSES."""
    optimizer: str = "adam"
    """Optimizer name, one of the reference rules."""
    hyperparameters: Mapping[str, Any] = field(
        default_factory=lambda: {"lr": 0.1, "betas": (0.9, 0.99), "eps": 1e-8})
    """Keyword arguments of the optimizer."""
    dtype: str = "float32"
    """Parameter and data dtype, one of DTYPES."""
    seed: int = 0
    """Seed of torch's RNG before the model is built."""
    steps: int = 101
    """Steps `check` runs when not told otherwise."""
    reference: str = "torch"
    """Reference flavour: `torch` or `textbook`."""
    tolerance: Tolerance | None = None
    """Tolerance of the checks; None means the dtype's default."""
    description: str = ""
    """One line on what the scenario shows, for `optimstep presets` and help."""
    model: str = "linear"
    """Model kind, one of `models.MODELS`; `in_features`/`out_features` size it."""
    model_options: Mapping[str, Any] = field(default_factory=dict)
    """Options of the model kind beyond the feature counts, e.g. `hidden` of an `mlp`."""
    data: Any = None
    """A `data.DataSource` to load samples from; None uses `batches` as given."""
    batch_size: int | None = None
    """Samples per batch of `data`; None puts every sample in one batch."""
    shuffle: bool = False
    """Whether to permute the samples of `data` once, seeded by `seed`, before batching."""
    param_groups: tuple[Mapping[str, Any], ...] = ()
    """Optimizer param groups: each has `params` (parameter names) and hyper-parameter
    overrides. Parameters named in no group form one last group with `hyperparameters`."""
    optimizer_class: str | None = None
    """One's own optimizer as `package.module:Class`, used instead of `optimizer`."""
    reference_rule: str | None = None
    """Rule to check against, one of RULES; None means the optimizer's own (for a custom
    class: the rule of its nearest torch.optim base class)."""
    device: str = "cpu"
    """torch device of the model and data, e.g. `cpu` or `cuda:0`; must be available."""
    source: str | None = None
    """File the scenario was read from; errors found while building name it."""

    def __post_init__(self) -> None:
        _check_optimizer(self.optimizer)
        if self.optimizer_class is None:
            try:
                checked = RULES[self.optimizer].check_hyperparameters(self.hyperparameters)
            except ValueError as error:
                raise ScenarioError(str(error)) from None
            object.__setattr__(self, "hyperparameters", checked)
        # One's own optimizer class takes keywords the rule's limits do not know; its
        # constructor validates them when the scenario is built.
        _check_device(self.device, self.hyperparameters)
        _require(self.loss in LOSSES, "loss", self.loss, f"one of {', '.join(sorted(LOSSES))}")
        _require(self.dtype in DTYPES, "dtype", self.dtype, f"one of {', '.join(DTYPES)}")
        _require(self.reference in FLAVOURS, "reference", self.reference,
                 f"one of {', '.join(FLAVOURS)}")
        _require(isinstance(self.steps, int) and self.steps >= 1, "steps", self.steps,
                 "an integer >= 1")
        # torch.manual_seed takes 0 to 2**64 - 1 (it also wraps negatives down to -2**63).
        _require(isinstance(self.seed, int) and not isinstance(self.seed, bool)
                 and 0 <= self.seed < 2**64, "seed", self.seed,
                 "an integer from 0 to 2**64 - 1")
        _require(len(self.batches) >= 1, "batches", self.batches, "at least one batch")
        from .builder import validate_sources

        validate_sources(self)

    @property
    def rule(self) -> type[Rule]:
        """The reference rule of the scenario's optimizer."""
        return RULES[self.optimizer]

    def with_optimizer(self, name: str) -> Scenario:
        """Return the scenario stepped by optimizer `name` with torch's default
        hyper-parameters, keeping the learning rate; unchanged if `name` is already its
        optimizer."""
        _check_optimizer(name)
        if name == self.optimizer:
            return self
        learning_rate = ({"lr": self.hyperparameters["lr"]} if "lr" in self.hyperparameters
                         else {})
        return dataclasses.replace(self, optimizer=name, hyperparameters=learning_rate)

    @property
    def torch_dtype(self) -> torch.dtype:
        """The torch dtype of parameters and data."""
        return DTYPES[self.dtype]

    def effective_tolerance(self) -> Tolerance:
        """Return the tolerance the checks use: the scenario's, or the dtype's default."""
        return self.tolerance or Tolerance.for_dtype(self.torch_dtype)

    def build(self) -> Built:
        """Build the model, optimizer, loss and batches; raise ScenarioError on bad values."""
        from . import builder

        try:
            torch.manual_seed(self.seed)
            model = builder.build_model(self)
            batches = builder.build_batches(self)
            optimizer, rule = builder.build_optimizer(self, model)
        except ScenarioError as error:
            raise builder.located(self, error) from None
        return Built(model, optimizer, LOSSES[self.loss](), batches, rule)

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        """Construct the optimizer; torch's own validation errors become ScenarioErrors."""
        optimizer_class = self.rule.optimizer_class
        try:
            return optimizer_class(params, **dict(self.hyperparameters))
        except (ValueError, TypeError, RuntimeError) as error:
            raise ScenarioError(f"invalid hyper-parameters for {self.optimizer}: {error}") from None


def _check_optimizer(name: Any) -> None:
    if name in RULES:
        return
    allowed = f"one of {', '.join(sorted(RULES))}"
    reason = UNSUPPORTED.get(str(name).lower())
    raise ScenarioError(f"invalid optimizer: {name!r} ({reason}; expected {allowed})" if reason
                        else f"invalid optimizer: {name!r} (expected {allowed})")


def _check_device(name: Any, hyperparameters: Mapping[str, Any]) -> None:
    from .builder import check_device

    check_device(name)
    device = torch.device(name)
    if hyperparameters.get("capturable") and device.type not in CAPTURABLE_DEVICES:
        raise ScenarioError(f"invalid capturable: True (not available on this device, {name}: "
                            f"it needs one of the device types {', '.join(CAPTURABLE_DEVICES)})")
    if hyperparameters.get("differentiable"):
        raise ScenarioError("invalid differentiable: True (expected false: torch then needs "
                            "parameters that are not leaves, and a model's parameters are)")


def _require(condition: bool, key: str, value: Any, allowed: str) -> None:
    if not condition:
        raise ScenarioError(f"invalid {key}: {value!r} (expected {allowed})")

