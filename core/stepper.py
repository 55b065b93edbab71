"""The Stepper: runs one `optimizer.step()` at a time and checks it against the rule."""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .checks import Check, Tolerance, compare
from .record import ParamRecord, StepRecord
from .rules import Rule, RuleOutput, Term, rule_for
from .scenario import Scenario

logger = logging.getLogger(__name__)

Batch = tuple[torch.Tensor, torch.Tensor]
State = dict[str, torch.Tensor]


def _real(tensor: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(tensor) if tensor.is_complex() else tensor


def _clone_state(state: dict[str, Any]) -> State:
    return {key: (value.detach().clone() if isinstance(value, torch.Tensor)
                  else torch.as_tensor(value)) for key, value in state.items()}


def _same_state(a: State, b: State) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def _operands(before: torch.Tensor | None, after: torch.Tensor) -> torch.Tensor | None:
    # |before| + |after| bounds both operands of an update after = before + Δ.
    if before is None:
        return None
    before, after = _real(before), _real(after)
    if before.shape != after.shape:
        return None
    return before.abs().double() + after.abs().double()


def _real_terms(output: RuleOutput) -> tuple[Term, ...]:
    # Records show complex terms as real pairs, the form the rule's real arithmetic uses.
    return tuple(dataclasses.replace(term, value=_real(term.value)) if term.value.is_complex()
                 else term for term in output.terms)


def group_hyperparameters(group: dict[str, Any]) -> dict[str, Any]:
    """Return a param group's hyper-parameters (everything but `params`), tensors copied."""
    return {key: (value.detach().clone() if isinstance(value, torch.Tensor) else value)
            for key, value in group.items() if key != "params"}


class Stepper:
    """Steps a model's optimizer and checks each step against a reference rule.

    Each step runs forward and backward on the next batch (batches cycle in order), records
    every parameter and torch's state before `optimizer.step()`, steps, then runs the rule
    twice: from torch's state before the step (`single` mode, which pinpoints a bad step)
    and from the rule's own state carried since step 1 (`carried` mode, a hand calculation).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        batches: Sequence[Batch],
        *,
        rule: Rule | None = None,
        reference: str = "torch",
        tolerance: Tolerance | None = None,
        name: str = "custom",
    ) -> None:
        if not batches:
            raise ValueError("invalid batches: empty (expected at least one (inputs, targets) pair)")
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.batches = tuple(batches)
        self.rule = rule or rule_for(optimizer, reference)
        self.tolerance = tolerance
        """Tolerance override; None uses each parameter dtype's default."""
        self.name = name
        names = {id(p): n for n, p in model.named_parameters()}
        self.param_names = [
            [names.get(id(p), f"group{g}.param{i}") for i, p in enumerate(group["params"])]
            for g, group in enumerate(optimizer.param_groups)
        ]
        self.records: list[StepRecord] = []
        self._carried: dict[tuple[int, int], State] = {}
        self._initial = (copy.deepcopy(model.state_dict()),
                         copy.deepcopy(optimizer.state_dict()), torch.get_rng_state())

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Stepper:
        """Build a stepper on a scenario's model, optimizer, loss and batches."""
        built = scenario.build()
        return cls(built.model, built.optimizer, built.loss_fn, built.batches,
                   reference=scenario.reference, tolerance=scenario.tolerance,
                   name=scenario.name)

    @property
    def step_count(self) -> int:
        """Steps taken since the start or the last reset."""
        return len(self.records)

    @property
    def reference(self) -> str:
        """The active reference flavour."""
        return self.rule.flavour

    def tolerance_for(self, param: torch.Tensor) -> Tolerance:
        """Return the tolerance of checks on `param`."""
        return self.tolerance or Tolerance.for_dtype(param.dtype)

    def reset(self) -> None:
        """Return the model, optimizer, RNG and reference to their state before step 1."""
        model_state, optimizer_state, rng_state = self._initial
        self.model.load_state_dict(model_state)
        self.optimizer.load_state_dict(copy.deepcopy(optimizer_state))
        torch.set_rng_state(rng_state)
        self.records.clear()
        self._carried.clear()

    def run(self, steps: int) -> list[StepRecord]:
        """Take `steps` steps and return their records."""
        return [self.step() for _ in range(steps)]

    def step(self) -> StepRecord:
        """Take one optimizer step, check it, and return its record."""
        t = self.step_count + 1
        inputs, targets = self.batches[(t - 1) % len(self.batches)]
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(inputs), targets)
        loss.backward()

        snapshots = [
            [(p.detach().clone(), None if p.grad is None else p.grad.detach().clone(),
              _clone_state(self.optimizer.state.get(p, {}))) for p in group["params"]]
            for group in self.optimizer.param_groups
        ]
        hyperparameters = tuple(group_hyperparameters(g) for g in self.optimizer.param_groups)
        self.optimizer.step()

        params: list[ParamRecord] = []
        single: list[Check] = []
        carried: list[Check] = []
        for g, group in enumerate(self.optimizer.param_groups):
            for i, p in enumerate(group["params"]):
                before, grad, state_before = snapshots[g][i]
                record, checks = self._verify((g, i), p, before, grad, state_before,
                                              hyperparameters[g])
                params.append(record)
                single += checks[0]
                carried += checks[1]

        record = StepRecord(t, float(loss.detach()), tuple(params), tuple(single + carried),
                            self.rule.title, hyperparameters, self.rule.flavour)
        self.records.append(record)
        if not record.passed:
            logger.info("step %d: %d check(s) failed", t, len(record.failures))
        return record

    def _verify(self, key, p, before, grad, state_before, hyperparameters):
        name = self.param_names[key[0]][key[1]]
        after = p.detach().clone()
        state_after = _clone_state(self.optimizer.state.get(p, {}))
        if grad is None:
            return ParamRecord(name, key[0], before, after, None, state_after), ([], [])

        # Rules take complex tensors as they are and view them as real where torch does,
        # because complex and real arithmetic round differently.
        start = state_before or self.rule.initial_state(before, hyperparameters)
        single = self.rule.run(before, grad, start, hyperparameters)
        own = self._carried.get(key) or self.rule.initial_state(before, hyperparameters)
        # Identical inputs give identical outputs: skip the second run in the usual case.
        carried = single if _same_state(own, start) else self.rule.run(
            before, grad, own, hyperparameters)
        self._carried[key] = carried.state

        tolerance = self.tolerance_for(p)
        torch_before = (before, state_before)
        checks = (self._compare(name, "single", single, after, state_after, torch_before,
                                tolerance),
                  self._compare(name, "carried", carried, after, state_after, torch_before,
                                tolerance))
        update = single.update
        if before.is_complex() and not update.is_complex():
            update = torch.view_as_complex(update.contiguous())
        return ParamRecord(name, key[0], before, after, grad, state_after, _real_terms(single),
                           _real_terms(carried), update), checks

    @staticmethod
    def _compare(name: str, mode: str, output: RuleOutput, after: torch.Tensor,
                 torch_state: State, torch_before: tuple[torch.Tensor, State],
                 tolerance: Tolerance) -> list[Check]:
        param_before, state_before = torch_before
        checks = [compare(f"{name}.param", mode, _real(after), output.param, tolerance,
                          _operands(param_before, output.param))]
        for key, value in torch_state.items():
            if key in output.state:
                checks.append(compare(f"{name}.{key}", mode, _real(value), output.state[key],
                                      tolerance, _operands(state_before.get(key),
                                                           output.state[key])))
            else:
                checks.append(Check(f"{name}.{key}", mode, False, float("inf"), float("inf"), -1,
                                    tolerance, detail=f"the reference keeps no {key!r}"))
        return checks
