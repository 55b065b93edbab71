"""Scenarios for a distributed run: one model on every rank, each rank with its own data."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..scenario import LOSSES, Scenario, ScenarioError

Batch = tuple[torch.Tensor, torch.Tensor]

MODELS = ("scenario", "mlp")
"""Models a sharded scenario can run: the scenario's own, or the seeded two-layer MLP."""

MLP_SHAPE = (4, 8, 2)
"""Inputs, hidden units and outputs of the MLP: Linear(4, 8), tanh, Linear(8, 2)."""


@dataclass(frozen=True)
class ShardedScenario:
    """A scenario split over ranks.

    With `model="scenario"` every rank builds the scenario's model and takes its own equal
    slice of every batch (rank r gets rows r·B/N to (r+1)·B/N of a batch of B samples), so
    the average of the ranks' gradients is the gradient of the whole batch. With
    `model="mlp"` every rank builds the same seeded MLP and takes its own
    `samples_per_rank` rows of one seeded data set; the optimizer, hyper-parameters, loss,
    dtype, seed, steps, reference and tolerance still come from `scenario`.
    """

    scenario: Scenario = field(default_factory=Scenario)
    """Optimizer, hyper-parameters, loss, dtype, seed, steps, reference and tolerance."""
    model: str = "scenario"
    """One of MODELS."""
    samples_per_rank: int = 4
    """Rows of the MLP data set each rank trains on (`mlp` only)."""

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ScenarioError(f"invalid model: {self.model!r} (expected one of "
                                f"{', '.join(MODELS)})")
        if not (isinstance(self.samples_per_rank, int) and self.samples_per_rank >= 1):
            raise ScenarioError(f"invalid samples_per_rank: {self.samples_per_rank!r} "
                                "(expected an integer >= 1)")

    @property
    def name(self) -> str:
        """Short name shown in reports, e.g. `linear` or `mlp`."""
        return self.scenario.name if self.model == "scenario" else "mlp"

    def validate(self, world_size: int) -> None:
        """Raise ScenarioError unless every rank gets a non-empty, equal share of the data."""
        if self.model != "scenario":
            return
        for x, _ in self.scenario.batches:
            samples = len(x)
            if samples % world_size:
                divisors = [n for n in range(1, samples + 1) if samples % n == 0]
                raise ScenarioError(
                    f"invalid ranks: {world_size} (the scenario's batches of {samples} "
                    f"samples must split evenly; expected one of "
                    f"{', '.join(map(str, divisors))})")

    def build_model(self) -> torch.nn.Module:
        """Build the model every rank starts from; the same seed gives the same weights."""
        if self.model == "scenario":
            return self.scenario.build().model
        torch.manual_seed(self.scenario.seed)
        inputs, hidden, outputs = MLP_SHAPE
        model = torch.nn.Sequential(torch.nn.Linear(inputs, hidden), torch.nn.Tanh(),
                                    torch.nn.Linear(hidden, outputs))
        return model.to(self.scenario.torch_dtype)

    def loss_fn(self) -> torch.nn.Module:
        """Build the loss function."""
        return LOSSES[self.scenario.loss]()

    def rank_batches(self, rank: int, world_size: int) -> tuple[Batch, ...]:
        """Return the (inputs, targets) batches of `rank`, one per step, cycled in order."""
        self.validate(world_size)
        if self.model == "mlp":
            return (self._mlp_shard(rank, world_size),)
        batches = self.scenario.build().batches
        return tuple((x.chunk(world_size)[rank], y.chunk(world_size)[rank]) for x, y in batches)

    def _mlp_shard(self, rank: int, world_size: int) -> Batch:
        generator = torch.Generator().manual_seed(self.scenario.seed)
        samples = self.samples_per_rank * world_size
        inputs, _, outputs = MLP_SHAPE
        x = torch.randn(samples, inputs, generator=generator)
        # Targets in [0, 1) suit every loss in LOSSES, binary cross-entropy included.
        y = torch.rand(samples, outputs, generator=generator)
        rows = slice(rank * self.samples_per_rank, (rank + 1) * self.samples_per_rank)
        dtype = self.scenario.torch_dtype
        return x[rows].to(dtype), y[rows].to(dtype)


def mlp_scenario(scenario: Scenario | None = None, samples_per_rank: int = 4) -> ShardedScenario:
    """Return the seeded MLP scenario with the optimizer settings of `scenario` (default one)."""
    return ShardedScenario(scenario or Scenario(), model="mlp", samples_per_rank=samples_per_rank)
