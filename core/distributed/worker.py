"""The rank process: `python -m optimstep.core.distributed.worker`, configured through stdin.

The rank connects to the launcher's store, joins the process group, builds its model, then
polls the store for commands (`cmd/1`, `cmd/2`, ...) and writes each result under
`result/<n>/<rank>`. It waits on the store, never in a collective, between commands, so the
launcher can pause for as long as it likes. An exception is written to `error/<rank>` with
its traceback before the process exits.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import signal
import sys
import time
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import torch
import torch.distributed as dist
from torch.distributed import PrefixStore

from .faults import fault_from_env
from .protocol import (CONSOLIDATE, PROCESS_GROUP_PREFIX, STEP, STOP, WorkerConfig, command_key,
                       decode, encode, error_key, phase_key, ready_key, result_key)
from .rank import Rank
from .store import connect_store

POLL_SECONDS = 0.02
"""Interval of a waiting rank's store polls and parent checks."""


class Worker:
    """The store side of one rank: phases, commands, results and error reports."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.rank = config.rank
        self.store = connect_store(config.port, timeout=max(60.0, config.collective_timeout))
        self.phase = "setup"
        self.step = 0

    def set_phase(self, phase: str, step: int) -> None:
        """Record the phase this rank is entering, with the step and the time, in the store."""
        self.phase, self.step = phase, step
        self.store.set(phase_key(self.rank), encode(
            {"phase": phase, "step": step, "since": time.time()}))

    def report_error(self, error: BaseException) -> None:
        """Write an exception with its rank, step, phase and traceback to the store."""
        self.store.set(error_key(self.rank), encode({
            "rank": self.rank, "step": self.step, "phase": self.phase, "time": time.time(),
            "message": f"{type(error).__name__}: {error}",
            "traceback": "".join(traceback.format_exception(error))}))

    def wait_command(self, number: int) -> dict[str, Any]:
        """Poll the store until command `number` arrives; exit if the launcher has gone."""
        key = command_key(number)
        while not self.store.check([key]):
            if os.getppid() != self.config.launcher_pid:
                os._exit(1)
            time.sleep(POLL_SECONDS)
        return decode(self.store.get(key))

    def answer(self, number: int, result: dict[str, Any]) -> None:
        """Store this rank's result of command `number`."""
        self.store.set(result_key(number, self.rank), encode(result))


def serve(worker: Worker) -> None:
    """Join the process group, build the rank, and run commands until `stop`."""
    config = worker.config
    device = _device(config)
    dist.init_process_group(config.backend, store=PrefixStore(PROCESS_GROUP_PREFIX, worker.store),
                            rank=config.rank, world_size=config.world_size,
                            timeout=timedelta(seconds=config.collective_timeout))
    rank = Rank(config.scenario, config.strategy, config.rank, config.world_size, device,
                fault_from_env(), worker.set_phase)
    worker.store.set(ready_key(config.rank), b"1")
    worker.set_phase("idle", 0)

    number = 1
    while (command := worker.wait_command(number))["op"] != STOP:
        if command["op"] == STEP:
            result = rank.step()
        elif command["op"] == CONSOLIDATE:
            result = rank.consolidate()
        else:
            raise ValueError(f"unknown command: {command!r}")
        worker.answer(number, result)
        worker.set_phase("idle", rank.step_count)
        number += 1
    worker.set_phase("stop", rank.step_count)
    dist.destroy_process_group()


def _device(config: WorkerConfig) -> torch.device:
    if config.backend != "nccl":
        return torch.device("cpu")
    device = torch.device("cuda", config.rank % torch.cuda.device_count())
    torch.cuda.set_device(device)
    return device


def main() -> NoReturn:
    """Run one rank from the pickled WorkerConfig on stdin, then end the process.

    The exit status is 0 after `stop`, and 1 after a failure, which is reported first.
    """
    config = pickle.load(sys.stdin.buffer)
    stacks = open(Path(config.run_dir) / f"stack-rank{config.rank}.txt", "w")
    # The launcher sends SIGUSR1 to a rank that missed its deadline, to see where it is.
    faulthandler.register(signal.SIGUSR1, file=stacks, all_threads=True)
    faulthandler.enable(file=sys.stderr)

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // config.world_size))
    worker = Worker(config)
    try:
        serve(worker)
    except BaseException as error:  # noqa: BLE001 - every failure goes to the launcher
        traceback.print_exc()
        try:
            worker.report_error(error)
        except dist.DistError:
            pass  # the launcher and its store are gone, so no one can read the report
        sys.stderr.flush()
        # Skip interpreter shutdown: the process group's destructors can block on peers.
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    # The process group is destroyed and nothing is left to clean up, but interpreter
    # shutdown after gloo took about 2 s on two shared CPU cores (torch 2.13), and the
    # launcher waits for it on every close.
    os._exit(0)


if __name__ == "__main__":
    main()
