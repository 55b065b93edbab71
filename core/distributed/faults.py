"""Faults planted in a rank for tests, read from an environment variable by the worker only.

`OPTIMSTEP_DISTRIBUTED_FAULT=KIND:RANK:STEP[:FACTOR]` plants one fault in rank RANK:

- `grad_scale`: from step STEP on, an optimizer step pre-hook multiplies every gradient the
  rank's optimizer steps by FACTOR (default 2), after the reference has read them;
- `raise`: the rank raises RuntimeError at the start of step STEP;
- `hang`: the rank sleeps for ever at the start of step STEP.

No command-line option sets it: it exists so that tests can prove the checks catch faults.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

import torch

FAULT_ENV = "OPTIMSTEP_DISTRIBUTED_FAULT"
"""The environment variable a rank reads its planted fault from."""

KINDS = ("grad_scale", "raise", "hang")


@dataclass(frozen=True)
class Fault:
    """One planted fault."""

    kind: str
    """One of KINDS."""
    rank: int
    """The rank the fault hits."""
    step: int
    """The step it starts at (from 1)."""
    factor: float = 2.0
    """Gradient scale of `grad_scale`."""

    def spec(self) -> str:
        """Return the value of FAULT_ENV that plants this fault."""
        return f"{self.kind}:{self.rank}:{self.step}:{self.factor}"


def fault_from_env(environ: Mapping[str, str] = os.environ) -> Fault | None:
    """Return the fault FAULT_ENV plants, or None; raise ValueError on an invalid value."""
    spec = environ.get(FAULT_ENV, "")
    if not spec:
        return None
    parts = spec.split(":")
    try:
        kind, rank, step = parts[0], int(parts[1]), int(parts[2])
        factor = float(parts[3]) if len(parts) > 3 else 2.0
    except (IndexError, ValueError):
        kind = ""
    if kind not in KINDS or len(parts) > 4:
        raise ValueError(f"invalid {FAULT_ENV}: {spec!r} (expected KIND:RANK:STEP[:FACTOR] "
                         f"with KIND one of {', '.join(KINDS)})")
    return Fault(kind, rank, step, factor)


class PlantedFault:
    """A fault installed in one rank: the hooks and checks that make it happen."""

    def __init__(self, fault: Fault | None, rank: int, optimizer: torch.optim.Optimizer) -> None:
        self.fault = fault if fault is not None and fault.rank == rank else None
        self.step = 0
        if self.fault is not None and self.fault.kind == "grad_scale":
            optimizer.register_step_pre_hook(self._scale_gradients)

    def start_step(self, step: int) -> None:
        """Raise or hang if this rank's fault starts at `step`."""
        self.step = step
        if self.fault is None or step != self.fault.step:
            return
        if self.fault.kind == "raise":
            raise RuntimeError(f"planted fault: rank {self.fault.rank} raised at step {step}")
        if self.fault.kind == "hang":
            hang()

    def _scale_gradients(self, optimizer, args, kwargs) -> None:
        if self.step < self.fault.step:
            return
        with torch.no_grad():
            for group in optimizer.param_groups:
                for param in group["params"]:
                    if param.grad is not None:
                        param.grad.mul_(self.fault.factor)


def hang() -> None:
    """Sleep for ever, as a rank stuck outside any collective would."""
    while True:
        time.sleep(3600)
