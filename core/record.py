"""Frozen per-step records: what torch did, what the rule computed, and the checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import torch

from .checks import Check
from .rules.base import DerivedField, Term


class NoMoreSteps(Exception):
    """Raised by a source of records that has no further step, e.g. the end of a trace."""


@dataclass(frozen=True)
class ParamRecord:
    """One parameter on one step. Tensors are detached copies owned by the record."""

    name: str
    """Qualified name from the model, e.g. `weight` or `layers.0.bias`."""
    group: int
    """Index of the optimizer param group the parameter belongs to."""
    before: torch.Tensor
    """Value before the step."""
    after: torch.Tensor
    """Value after torch's step."""
    grad: torch.Tensor | None
    """Gradient torch stepped with; None when the parameter was skipped."""
    state: Mapping[str, torch.Tensor] = field(default_factory=dict)
    """torch's optimizer state after the step, e.g. `step`, `exp_avg`, `exp_avg_sq`."""
    terms: tuple[Term, ...] = ()
    """Reference terms computed from torch's state before the step (single-step mode)."""
    carried_terms: tuple[Term, ...] = ()
    """Reference terms computed from the reference's own state since step 1 (carried mode)."""
    computed_update: torch.Tensor | None = DerivedField()  # type: ignore[assignment]
    """Update the reference computed from torch's state: reference after − before. It may
    be held as a Derived, computed on each read, so the record keeps no tensor for it."""

    @property
    def skipped(self) -> bool:
        """Whether torch skipped the parameter because its gradient was None."""
        return self.grad is None

    @property
    def actual_update(self) -> torch.Tensor:
        """Update torch applied: after − before."""
        return self.after - self.before

    def term(self, name: str, carried: bool = False) -> Term | None:
        """Return the reference term called `name`, or None if the rule has none."""
        for term in self.carried_terms if carried else self.terms:
            if term.name == name:
                return term
        return None


@dataclass(frozen=True)
class StepRecord:
    """Everything about one `optimizer.step()`: inputs, torch's result, the reference, checks."""

    step: int
    """Step number t, starting at 1."""
    loss: float
    """Loss computed before the step, on the batch the gradients came from."""
    params: tuple[ParamRecord, ...]
    """Every parameter the optimizer holds, in param-group order."""
    checks: tuple[Check, ...]
    """Checks of both modes, single-step first, in parameter order."""
    optimizer: str
    """Display name of the optimizer, e.g. `Adam`."""
    hyperparameters: tuple[Mapping[str, Any], ...]
    """Hyper-parameters of each param group at this step."""
    reference: str = "torch"
    """Reference flavour: `torch` (torch's arithmetic order) or `textbook`."""

    def __post_init__(self) -> None:
        frozen = tuple(MappingProxyType(dict(group)) for group in self.hyperparameters)
        object.__setattr__(self, "hyperparameters", frozen)

    @property
    def passed(self) -> bool:
        """Whether every check of the step passed."""
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The checks that failed."""
        return tuple(check for check in self.checks if not check.passed)

    def param(self, name: str) -> ParamRecord:
        """Return the record of the parameter called `name`."""
        for record in self.params:
            if record.name == name:
                return record
        raise KeyError(f"no parameter named {name!r} (parameters: "
                       f"{', '.join(p.name for p in self.params)})")
