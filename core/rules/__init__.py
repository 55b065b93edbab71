"""Reference rules, one module per optimizer family, and their registry."""

from __future__ import annotations

import torch

from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .base import FLAVOURS, Rule, RuleOutput, Term
from .nadam import NAdam
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

RULES: dict[str, type[Rule]] = {rule.name: rule for rule in (
    Adam, AdamW, NAdam, RAdam, Adamax, SGD, RMSprop, Adagrad, Adadelta, ASGD, Rprop)}
"""Every reference rule by its short name."""

UNSUPPORTED: dict[str, str] = {
    "lbfgs": "LBFGS needs a closure and re-evaluates the loss several times per step, so one "
             "step is not one update that a rule can recompute",
    "sparseadam": "SparseAdam needs sparse gradients, which the models here do not produce",
}
"""torch optimizers that have no reference rule, by short name, with the reason."""


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
    reason = UNSUPPORTED.get(cls.__name__.lower())
    known = ", ".join(r.optimizer_class.__name__ for r in RULES.values())
    raise ValueError(f"no reference rule for {cls.__name__}"
                     f"{f': {reason}' if reason else ''} (rules exist for: {known})")


__all__ = ["FLAVOURS", "RULES", "UNSUPPORTED", "Rule", "RuleOutput", "Term", "rule_for"]
