"""The reference-rule interface: named terms in order, new state, parameter after."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

FLAVOURS = ("torch", "textbook")
"""Reference flavours: `torch` follows torch's arithmetic order, `textbook` the paper's."""


@dataclass(frozen=True)
class Term:
    """One intermediate value of an update rule, in the order the formula applies it."""

    name: str
    """Identifier used in JSON and code, e.g. `m_hat`."""
    symbol: str
    """How the UI writes it, e.g. `m̂`."""
    formula: str
    """The formula that produced it, in terms of earlier symbols."""
    value: torch.Tensor
    """Its value: a tensor shaped like the parameter, or a 0-d tensor for scalars."""


@dataclass(frozen=True)
class RuleOutput:
    """What a rule computes for one parameter on one step."""

    terms: tuple[Term, ...]
    """Named intermediate values in the order the formula applies them."""
    state: dict[str, torch.Tensor]
    """The rule's state after the step, under torch's state keys."""
    param: torch.Tensor
    """The parameter after the step."""
    update: torch.Tensor
    """The update the rule applies: `param_after - param_before` as the formula states it."""


Hyperparameters = dict[str, Any]


class Rule:
    """A reference implementation of one optimizer's update for a single parameter.

    Subclasses implement `initial_state` and `step` from the published algorithm. Inputs are
    never modified: `step` returns a new state. Complex parameters arrive as real views.
    """

    name: ClassVar[str]
    """Short name, e.g. `adam`."""
    title: ClassVar[str]
    """Display name, e.g. `Adam`."""
    optimizer_class: ClassVar[type[torch.optim.Optimizer]]
    """The torch optimizer this rule describes."""
    hyperparameters: ClassVar[tuple[str, ...]]
    """The param-group keys the rule reads, in display order."""
    panels: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = ()
    """Panels the UI shows for this rule: (title, term names) pairs, e.g. Adam's
    `("Moments", ("m", "v"))`. Terms in no panel are shown under "Other terms"."""

    def __init__(self, flavour: str = "torch") -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"invalid reference flavour: {flavour!r} (expected one of "
                             f"{', '.join(FLAVOURS)})")
        self.flavour = flavour

    def initial_state(self, param: torch.Tensor, group: Hyperparameters) -> dict[str, torch.Tensor]:
        """Return the state torch creates before a parameter's first step."""
        raise NotImplementedError

    def step(
        self,
        param: torch.Tensor,
        grad: torch.Tensor,
        state: dict[str, torch.Tensor],
        group: Hyperparameters,
    ) -> RuleOutput:
        """Compute one step for one parameter from its state before the step."""
        raise NotImplementedError


def scalar(value: Any) -> float:
    """Return a hyper-parameter as a Python float, whether given as a number or a tensor."""
    return float(value.item()) if isinstance(value, torch.Tensor) else float(value)


def as_tensor(value: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Return a scalar as a 0-d tensor on the device of `like`, for display as a term."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone().to(like.device)
    return torch.tensor(value, dtype=torch.float64, device=like.device)
