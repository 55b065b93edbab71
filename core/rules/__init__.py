"""Reference rules, one module per optimizer family, and their registry."""

from __future__ import annotations

import torch

from .adam import Adam, AdamW
from .base import FLAVOURS, Rule, RuleOutput, Term

RULES: dict[str, type[Rule]] = {rule.name: rule for rule in (Adam, AdamW)}
"""Every reference rule by its short name."""


def rule_for(optimizer: torch.optim.Optimizer | type[torch.optim.Optimizer],
             flavour: str = "torch") -> Rule:
    """Return the reference rule for a torch optimizer (instance or class).

    The most specific match wins, so AdamW's rule is chosen for AdamW even where AdamW
    subclasses Adam.
    """
    cls = optimizer if isinstance(optimizer, type) else type(optimizer)
    for klass in cls.__mro__:
        for rule in RULES.values():
            if rule.optimizer_class is klass:
                return rule(flavour)
    known = ", ".join(r.optimizer_class.__name__ for r in RULES.values())
    raise ValueError(f"no reference rule for {cls.__name__} (rules exist for: {known})")


__all__ = ["FLAVOURS", "RULES", "Rule", "RuleOutput", "Term", "rule_for"]
