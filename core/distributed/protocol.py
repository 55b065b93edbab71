"""The launcher-rank protocol: store keys, commands, phases and their JSON encoding."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .scenarios import ShardedScenario

STEP = "step"
"""Command: take one optimizer step and check it."""
CONSOLIDATE = "consolidate"
"""Command (ZeRO): consolidate the sharded optimizer state on rank 0 and return it."""
STOP = "stop"
"""Command: leave the process group and exit."""

PHASES = ("setup", "idle", "forward", "backward", "allreduce", "step", "local_grad", "check",
          "gather", "consolidate", "stop")
"""What a rank can be doing; each rank stores its current phase under `phase/<rank>`.

`allreduce` starts when every local gradient of a DDP model has been accumulated, so a rank
in it waits for DDP's allreduce. `local_grad` recomputes the rank's own un-averaged gradient
for the averaging audit. `gather` runs the all-gathers of the cross-rank checks.
"""

PROCESS_GROUP_PREFIX = "pg/"
"""Prefix of the keys torch.distributed's process group keeps in the same store."""


def command_key(number: int) -> str:
    """Return the key of the launcher's `number`-th command (from 1)."""
    return f"cmd/{number}"


def result_key(number: int, rank: int) -> str:
    """Return the key of a rank's answer to command `number`."""
    return f"result/{number}/{rank}"


def phase_key(rank: int) -> str:
    """Return the key of a rank's current phase."""
    return f"phase/{rank}"


def error_key(rank: int) -> str:
    """Return the key of a rank's exception report."""
    return f"error/{rank}"


def ready_key(rank: int) -> str:
    """Return the key a rank sets once its model and optimizer are built."""
    return f"ready/{rank}"


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a rank process needs, sent pickled through its stdin pipe (never a socket)."""

    rank: int
    world_size: int
    port: int
    """Port of the launcher's store on 127.0.0.1."""
    strategy: str
    backend: str
    """`gloo` or `nccl`."""
    scenario: ShardedScenario
    launcher_pid: int
    """The rank exits when its parent is no longer this process."""
    run_dir: str
    """Folder of the rank's log and stack-dump files."""
    collective_timeout: float
    """Seconds a collective may wait before torch.distributed raises (process group timeout)."""


def encode(value: Any) -> bytes:
    """Return a JSON-able value as UTF-8 JSON bytes for the store."""
    return json.dumps(value, allow_nan=False).encode()


def decode(data: bytes) -> Any:
    """Return the value of JSON bytes read from the store."""
    return json.loads(data.decode())
