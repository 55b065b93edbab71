"""One rank of a distributed run: builds its model and takes and checks one step per command."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch

from ..record import StepRecord
from ..rules import rule_for
from ..stepper import group_hyperparameters
from ..trace import encode_tensor, record_to_dict
from .faults import Fault, PlantedFault
from .scenarios import ShardedScenario
from .strategies import STRATEGIES, all_gather
from .verify import ReferenceChecker, audit_average, clone_state, compare_ranks


class Rank:
    """The model, optimizer and checks of one rank, driven by the launcher's commands.

    `set_phase` is called with each phase name as the rank enters it, so the launcher can
    tell where a rank is stuck.
    """

    def __init__(self, scenario: ShardedScenario, strategy: str, rank: int, world_size: int,
                 device: torch.device, fault: Fault | None,
                 set_phase: Callable[[str, int], None]) -> None:
        self.rank = rank
        self.set_phase = set_phase
        self.step_count = 0
        model = scenario.build_model().to(device)
        # A plain copy, never wrapped, computes this rank's own un-averaged gradient.
        self.plain = copy.deepcopy(model)
        self.strategy = STRATEGIES[strategy](model, scenario.scenario, device, rank, world_size)
        self.loss_fn = scenario.loss_fn()
        self.batches = tuple((x.to(device), y.to(device))
                             for x, y in scenario.rank_batches(rank, world_size))
        self.checker = ReferenceChecker(rule_for(self.strategy.stepping_optimizer,
                                                 scenario.scenario.reference),
                                        scenario.scenario.tolerance)
        self.tolerance = scenario.scenario.effective_tolerance()
        self.fault = PlantedFault(fault, rank, self.strategy.stepping_optimizer)
        self._pending_grads = 0
        if self.strategy.replicated:
            for param in model.parameters():
                param.register_post_accumulate_grad_hook(self._accumulated)

    def _accumulated(self, param: torch.Tensor) -> None:
        # Once every local gradient is in, what remains of backward is DDP's allreduce.
        self._pending_grads -= 1
        if self._pending_grads == 0:
            self.set_phase("allreduce", self.step_count)

    def step(self) -> dict[str, Any]:
        """Take one step, check it, and return this rank's JSON summary."""
        self.step_count = t = self.step_count + 1
        inputs, targets = self.batches[(t - 1) % len(self.batches)]
        strategy, local = self.strategy, self.strategy.local

        self.set_phase("forward", t)
        self.fault.start_step(t)
        strategy.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(strategy.module(inputs), targets)
        self.set_phase("backward", t)
        self._pending_grads = sum(1 for p in self.plain.parameters() if p.requires_grad)
        loss.backward()

        params = strategy.checked_params()
        before = [(local(p).detach().clone(), None if p.grad is None else local(p.grad).clone(),
                   clone_state(strategy.state(p), local)) for _, _, p in params]
        hyperparameters = tuple(group_hyperparameters(group)
                                for group in strategy.stepping_optimizer.param_groups)
        self.set_phase("local_grad", t)
        local_grads = self._local_gradients(inputs, targets)
        self.set_phase("step", t)
        strategy.optimizer.step()

        self.set_phase("check", t)
        records, checks = [], {"single": [], "carried": []}
        for (name, group, p), (p_before, grad, state_before) in zip(params, before):
            record, single, carried = self.checker.check(
                name, group, p_before, grad, state_before, local(p).detach().clone(),
                clone_state(strategy.state(p), local), hyperparameters[group])
            records.append(record)
            checks["single"] += single
            checks["carried"] += carried
        self.set_phase("gather", t)
        cross = self._audit(local_grads) + self._compare_ranks()

        record = StepRecord(t, float(loss.detach()), tuple(records),
                            tuple(checks["single"] + checks["carried"] + cross),
                            self.checker.rule.title, hyperparameters, self.checker.rule.flavour)
        return {"rank": self.rank, "step": t,
                "record": record_to_dict(record, self.checker.rule.panels)}

    def _local_gradients(self, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        full = self.strategy.full_parameters()
        with torch.no_grad():
            for name, param in self.plain.named_parameters():
                param.copy_(full[name])
        self.plain.zero_grad(set_to_none=True)
        self.loss_fn(self.plain(inputs), targets).backward()
        return {name: p.grad.detach().clone() for name, p in self.plain.named_parameters()
                if p.grad is not None}

    def _audit(self, local_grads: dict[str, torch.Tensor]) -> list:
        # The gradient the optimizer received is read after step(), so that a gradient
        # changed inside the step (a hook, a scaler) counts too.
        checks = []
        for name, param in self.strategy.model.named_parameters():
            if name not in local_grads or param.grad is None:
                continue
            gathered = [self.strategy.shard(g) for g in all_gather(local_grads[name])]
            received = self.strategy.local(param.grad).detach()
            checks.append(audit_average(name, received, gathered, self.tolerance))
        return checks

    def _compare_ranks(self) -> list:
        checks = []
        strategy = self.strategy
        for name, param in strategy.model.named_parameters():
            if strategy.replicated:
                checks += self._against_rank0(f"{name}.param", param.detach())
            if strategy.replicated_state:
                for key, value in strategy.state(param).items():
                    checks += self._against_rank0(f"{name}.{key}", value.detach())
        return checks

    def _against_rank0(self, name: str, tensor: torch.Tensor) -> list:
        gathered = all_gather(tensor)
        return [] if self.rank == 0 else [compare_ranks(name, tensor, gathered[0])]

    def consolidate(self) -> dict[str, Any]:
        """Gather the ZeRO state on rank 0 and return it there as JSON (a collective)."""
        self.set_phase("consolidate", self.step_count)
        state = self.strategy.consolidate()
        return {"rank": self.rank, "state": {
            name: {key: {"dtype": str(value.dtype).removeprefix("torch."),
                         "shape": list(value.shape), "value": encode_tensor(value)}
                   for key, value in entries.items() if isinstance(value, torch.Tensor)}
            for name, entries in state.items()}}
