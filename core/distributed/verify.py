"""Per-rank checks: the reference rule, the gradient-averaging audit, agreement across ranks."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from ..checks import Check, Tolerance, compare
from ..record import ParamRecord
from ..rules import Rule, RuleOutput

State = dict[str, torch.Tensor]

EXACT = Tolerance(rtol=0.0, atol=0.0)
"""Tolerance of the cross-rank checks: replicas must agree bit for bit."""


def clone_state(state: dict[str, Any], local) -> State:
    """Return a detached copy of an optimizer state, each tensor reduced to its local part."""
    return {key: (local(value).detach().clone() if isinstance(value, torch.Tensor)
                  else torch.as_tensor(value)) for key, value in state.items()}


class ReferenceChecker:
    """Checks one rank's parameters and optimizer state against the reference rule.

    Like the single-process Stepper it runs the rule twice per parameter: from torch's state
    before the step (`single`) and from its own state carried since step 1 (`carried`).
    """

    def __init__(self, rule: Rule, tolerance: Tolerance | None) -> None:
        self.rule = rule
        self.tolerance = tolerance
        self._carried: dict[str, State] = {}

    def check(self, name: str, group: int, before: torch.Tensor, grad: torch.Tensor | None,
              state_before: State, after: torch.Tensor, state_after: State,
              hyperparameters: dict[str, Any]) -> tuple[ParamRecord, list[Check], list[Check]]:
        """Return the parameter's record and its single-step and carried checks."""
        if grad is None:
            return ParamRecord(name, group, before, after, None, state_after), [], []

        start = state_before or self.rule.initial_state(before, hyperparameters)
        single = self.rule.step(before, grad, start, hyperparameters)
        own = self._carried.get(name) or self.rule.initial_state(before, hyperparameters)
        carried = self.rule.step(before, grad, own, hyperparameters)
        self._carried[name] = carried.state

        tolerance = self.tolerance or Tolerance.for_dtype(after.dtype)
        record = ParamRecord(name, group, before, after, grad, state_after, single.terms,
                             carried.terms, single.update)
        return (record, _compare(name, "single", single, after, state_after, tolerance),
                _compare(name, "carried", carried, after, state_after, tolerance))


def _compare(name: str, mode: str, output: RuleOutput, after: torch.Tensor, state: State,
             tolerance: Tolerance) -> list[Check]:
    checks = [compare(f"{name}.param", mode, after, output.param, tolerance)]
    for key, value in state.items():
        if key in output.state:
            checks.append(compare(f"{name}.{key}", mode, value, output.state[key], tolerance))
        else:
            checks.append(Check(f"{name}.{key}", mode, False, math.inf, math.inf, -1, tolerance,
                                detail=f"the reference keeps no {key!r}"))
    return checks


def audit_average(name: str, received: torch.Tensor, local_grads: list[torch.Tensor],
                  tolerance: Tolerance) -> Check:
    """Check the gradient the optimizer received against the mean of the ranks' own gradients.

    The mean is taken in float64 in rank order. Summation order (DDP's buckets, the
    collective's algorithm) moves the received gradient by rounding errors that scale with
    the summands, not with their mean, so an element passes when
    |received − mean| ≤ atol + rtol·mean(|g_r|) over ranks r.
    """
    stacked = torch.stack([g.double() for g in local_grads])
    expected = stacked.mean(dim=0)
    scale = stacked.abs().mean(dim=0)
    check = compare(f"{name}.grad", "average", received, expected.to(received.dtype), tolerance)
    if check.nonfinite_mismatches or check.detail:
        return check

    error = (received.double() - expected).abs()
    within = bool((error <= tolerance.atol + tolerance.rtol * scale).all())
    return dataclasses.replace(check, passed=within)


def compare_ranks(name: str, mine: torch.Tensor, rank0: torch.Tensor) -> Check:
    """Check that this rank's copy of a replicated tensor equals rank 0's, bit for bit."""
    return compare(name, "ranks", mine, rank0, EXACT)
