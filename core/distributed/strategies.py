"""Distribution strategies: how a rank wraps the model and which parameters it steps."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.distributed as dist

from ..rules import RULES
from ..scenario import Scenario

State = dict[str, Any]


class Strategy:
    """One way to distribute a model: DDP, ZeRO or FSDP2.

    Subclasses wrap the plain model, build the optimizer, and define which parameters this
    rank's optimizer steps and how to read their local part.
    """

    name: ClassVar[str]
    """Short name used on the command line."""
    title: ClassVar[str]
    """Display name."""
    replicated: ClassVar[bool] = True
    """Whether every rank has a whole copy of every parameter, so all copies must agree."""
    replicated_state: ClassVar[bool] = False
    """Whether every rank has a whole copy of the optimizer state, so all copies must agree."""

    def __init__(self, model: torch.nn.Module, scenario: Scenario, device: torch.device,
                 rank: int, world_size: int) -> None:
        self.model = model
        self.device = device
        self.rank = rank
        self.world_size = world_size
        self.module = self.wrap(model)
        self.optimizer = self.make_optimizer(scenario)
        self.names = {id(p): name for name, p in model.named_parameters()}

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """Return the module the rank runs forward and backward on."""
        raise NotImplementedError

    def make_optimizer(self, scenario: Scenario) -> torch.optim.Optimizer:
        """Return the optimizer the rank calls `step()` on."""
        return scenario.make_optimizer(self.module.parameters())

    @property
    def stepping_optimizer(self) -> torch.optim.Optimizer:
        """The optimizer that applies the update rule to this rank's parameters."""
        return self.optimizer

    def checked_params(self) -> list[tuple[str, int, torch.nn.Parameter]]:
        """Return (name, group index, parameter) of every parameter this rank's optimizer steps."""
        return [(self.names[id(p)], g, p)
                for g, group in enumerate(self.stepping_optimizer.param_groups)
                for p in group["params"]]

    def state(self, param: torch.nn.Parameter) -> State:
        """Return the optimizer state of a parameter this rank steps."""
        return self.stepping_optimizer.state.get(param, {})

    @staticmethod
    def local(tensor: Any) -> Any:
        """Return the part of a tensor this rank holds (a DTensor's local shard)."""
        return tensor.to_local() if hasattr(tensor, "to_local") else tensor

    def full_parameters(self) -> dict[str, torch.Tensor]:
        """Return every parameter whole, by name (a collective for sharded parameters)."""
        return {name: p.detach() for name, p in self.model.named_parameters()}

    def shard(self, full: torch.Tensor) -> torch.Tensor:
        """Return the part of a whole parameter-shaped tensor that this rank holds."""
        return full

    def consolidate(self) -> dict[str, State]:
        """Gather the whole optimizer state on rank 0 (a collective); return it there."""
        raise ValueError(f"consolidation applies to the zero strategy, not {self.name}")


class DDP(Strategy):
    """DistributedDataParallel: every rank steps every parameter on the averaged gradient."""

    name = "ddp"
    title = "DistributedDataParallel"
    replicated_state = True

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


class Zero(DDP):
    """ZeroRedundancyOptimizer around the scenario's optimizer, on a DDP model.

    Each rank owns a shard of the parameters: it keeps their state and steps them, then
    broadcasts them to the other ranks inside `step()`.
    """

    name = "zero"
    title = "ZeroRedundancyOptimizer"
    replicated_state = False

    def make_optimizer(self, scenario: Scenario) -> torch.optim.Optimizer:
        from torch.distributed.optim import ZeroRedundancyOptimizer

        return ZeroRedundancyOptimizer(
            self.module.parameters(), optimizer_class=RULES[scenario.optimizer].optimizer_class,
            **dict(scenario.hyperparameters))

    @property
    def stepping_optimizer(self) -> torch.optim.Optimizer:
        return self.optimizer.optim

    def consolidate(self) -> dict[str, State]:
        self.optimizer.consolidate_state_dict(to=0)
        if self.rank != 0:
            return {}
        state = self.optimizer.state_dict()["state"]
        # The consolidated state is indexed by position in the global param groups.
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        return {self.names[id(params[index])]: entries for index, entries in state.items()}


class FSDP(Strategy):
    """FSDP2 (`fully_shard`): each rank holds and steps dim-0 shards of every parameter."""

    name = "fsdp"
    title = "FSDP2"
    replicated = False

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh(self.device.type, (self.world_size,))
        # Shard the layers first, bottom-up, so that each layer gathers its own parameters.
        for module in reversed(list(model.modules())):
            if module is not model and any(True for _ in module.parameters(recurse=False)):
                fully_shard(module, mesh=mesh)
        return fully_shard(model, mesh=mesh)

    def full_parameters(self) -> dict[str, torch.Tensor]:
        return {name: p.detach().full_tensor() for name, p in self.model.named_parameters()}

    def shard(self, full: torch.Tensor) -> torch.Tensor:
        # fully_shard splits dim 0 as torch.chunk does; ranks past the last chunk hold none.
        chunks = full.chunk(self.world_size, dim=0)
        if self.rank < len(chunks):
            return chunks[self.rank]
        return full.narrow(0, full.size(0), 0)


STRATEGIES: dict[str, type[Strategy]] = {s.name: s for s in (DDP, Zero, FSDP)}
"""Every strategy by its command-line name."""


def all_gather(tensor: torch.Tensor) -> list[torch.Tensor]:
    """Return every rank's copy of `tensor`, bit for bit, in rank order (a collective)."""
    tensor = tensor.detach().contiguous()
    gathered = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, tensor)
    return gathered
