"""The launcher: hosts the store, starts the ranks, sends commands and collects their steps.

The launcher never joins a collective, so it cannot hang in one: it only reads and writes
keys in the store it hosts, with its own deadline on every step.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.distributed import DistError

from ..checks import Check, compare
from ..scenario import Scenario, ScenarioError
from .errors import DistributedError, RankFailed, RankHung, StuckRank
from .processes import RankProcesses
from ..trace import decode_tensor
from .protocol import (CONSOLIDATE, STEP, STOP, WorkerConfig, command_key, decode, encode,
                       error_key, phase_key, ready_key, result_key)
from .results import DistributedStep, RankStep
from .scenarios import ShardedScenario
from .store import host_store
from .strategies import STRATEGIES
from .verify import EXACT

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "gloo", "nccl")
"""`auto` picks nccl when every rank can have its own CUDA device, else gloo."""

POLL_SECONDS = 0.01
"""Interval of the launcher's store polls while it waits for the ranks."""
CLOSE_GRACE_SECONDS = 5.0
"""How long idle ranks get to leave the process group and exit after `stop`."""
FAILURE_GRACE_SECONDS = 1.0
"""How long the other ranks get to exit by themselves after one failed or hung."""
STACK_WAIT_SECONDS = 2.0
"""How long the launcher waits for a stuck rank's stack dump."""


@dataclass(frozen=True)
class RankPhase:
    """The phase a rank last stored: what it is doing, at which step, since when."""

    rank: int
    phase: str
    """One of `protocol.PHASES`, e.g. `forward` or `idle`."""
    step: int
    """The step it belongs to (0 while setting up)."""
    since: float
    """When the rank entered it, in seconds since the epoch (`time.time()`)."""


class DistributedRun:
    """A distributed run on `world_size` local rank processes, stepped one command at a time.

    Use it as a context manager, or call `start()` and `close()`. Each `step()` returns
    every rank's checks. A rank that raises, exits or misses the step deadline ends the
    run: every rank process is stopped, then RankFailed or RankHung is raised.
    """

    def __init__(self, scenario: ShardedScenario | Scenario | None = None, *,
                 strategy: str = "ddp", world_size: int = 2, backend: str = "auto",
                 step_timeout: float = 10.0, start_timeout: float = 120.0) -> None:
        if not isinstance(scenario, ShardedScenario):
            scenario = ShardedScenario(scenario or Scenario())
        _validate(strategy, world_size, backend, step_timeout, start_timeout)
        scenario.validate(world_size)
        # Building raises ScenarioError on invalid hyper-parameters; it also seeds torch's RNG,
        # which the caller's RNG must not feel.
        with torch.random.fork_rng(devices=[]):
            scenario.scenario.build()
        self.scenario = scenario
        self.strategy = strategy
        self.world_size = world_size
        self.backend = _resolve_backend(backend, world_size)
        self.step_timeout = float(step_timeout)
        self.start_timeout = float(start_timeout)
        self.records: list[DistributedStep] = []
        """The steps taken so far, in order."""
        self._processes = RankProcesses()
        self._store = None
        self._run_dir: Path | None = None
        self._command = 0
        self._in_flight = False
        self._state = "new"

    @property
    def name(self) -> str:
        """Short name of the scenario."""
        return self.scenario.name

    @property
    def pids(self) -> tuple[int, ...]:
        """Process ids of the ranks, in rank order."""
        return self._processes.pids

    @property
    def step_count(self) -> int:
        """Steps taken so far."""
        return len(self.records)

    @property
    def running(self) -> bool:
        """Whether the ranks are up and waiting for commands."""
        return self._state == "running"

    def __enter__(self) -> DistributedRun:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def start(self) -> DistributedRun:
        """Start the store and the ranks; return once every rank has built its model."""
        if self._state != "new":
            raise DistributedError("the run has already been started")
        self._state = "running"
        try:
            self._run_dir = Path(tempfile.mkdtemp(prefix="optimstep-ranks-"))
            self._store = host_store()
            self._start_ranks()
            self._collect({rank: ready_key(rank) for rank in range(self.world_size)},
                          self.start_timeout, step=0)
        except BaseException:
            # `with` calls __exit__ only once __enter__ has returned, so clean up here.
            self.close()
            raise
        return self

    def _start_ranks(self) -> None:
        env = _rank_environment()
        for rank in range(self.world_size):
            config = WorkerConfig(rank, self.world_size, self._store.port, self.strategy,
                                  self.backend, self.scenario, os.getpid(), str(self._run_dir),
                                  collective_timeout=2 * self.step_timeout + 30)
            self._processes.start(config, env, self._run_dir / f"rank{rank}.log")

    def step(self) -> DistributedStep:
        """Take one step on every rank and return every rank's checks."""
        step = self.step_count + 1
        number = self._send({"op": STEP})
        answers = self._collect({rank: result_key(number, rank) for rank in range(self.world_size)},
                                self.step_timeout, step)
        result = DistributedStep(step, self.strategy,
                                 tuple(RankStep.from_summary(answers[rank])
                                       for rank in range(self.world_size)))
        self.records.append(result)
        return result

    def run(self, steps: int) -> list[DistributedStep]:
        """Take `steps` steps and return them."""
        return [self.step() for _ in range(steps)]

    def consolidate(self) -> tuple[Check, ...]:
        """Check ZeRO's consolidated state on rank 0 against the state each owner reported.

        `consolidate_state_dict` is a collective, so every rank takes part. The consolidated
        state must equal, bit for bit, what each owning rank held after the last step, and
        that was checked against the reference rule on the owner.
        """
        if self.strategy != "zero":
            raise ValueError(f"consolidation applies to the zero strategy, not {self.strategy}")
        number = self._send({"op": CONSOLIDATE})
        answers = self._collect({rank: result_key(number, rank) for rank in range(self.world_size)},
                                self.step_timeout, self.step_count)
        owned = {param.name: param.state for rank in (self.records[-1].ranks if self.records else ())
                 for param in rank.record.params}
        return _consolidated_checks(answers[0]["state"], owned)

    def close(self) -> None:
        """Stop every rank (cleanly if idle, else by signal) and the store."""
        if self._state == "running":
            self._shutdown(FAILURE_GRACE_SECONDS if self._in_flight else CLOSE_GRACE_SECONDS)
        self._state = "closed"

    def phases(self) -> dict[int, RankPhase]:
        """Return the phase each rank last stored, by rank; safe to call from another thread.

        A program that waits for `start()` or `step()` in one thread can show from another
        where each rank is. Ranks that have stored no phase yet are left out, and the result
        is empty before `start()` and once the run has stopped.
        """
        store = self._store
        if store is None:
            return {}
        phases = {}
        try:
            for rank in range(self.world_size):
                if store.check([phase_key(rank)]):
                    value = decode(store.get(phase_key(rank)))
                    phases[rank] = RankPhase(rank, value["phase"], value["step"],
                                             value["since"])
        except DistError:
            return {}  # the run stopped while the store was being read
        return phases

    def interrupt(self) -> None:
        """End every rank process by signal now; safe to call from another thread.

        A `start()` or `step()` waiting in another thread then raises RankFailed at its next
        poll, without waiting for its deadline. A rank started after this call is not
        ended by it, so call it again while `start()` is still starting ranks.
        """
        self._processes.stop(0.0)

    def _send(self, command: dict[str, Any]) -> int:
        if self._state != "running":
            raise DistributedError(f"the run is {self._state}, not running")
        self._command += 1
        self._in_flight = True
        self._store.set(command_key(self._command), encode(command))
        return self._command

    def _collect(self, keys: dict[int, str], timeout: float, step: int) -> dict[int, Any]:
        pending, answers = dict(keys), {}
        deadline = time.monotonic() + timeout
        while True:
            for rank, key in list(pending.items()):
                if self._store.check([key]):
                    answers[rank] = decode(self._store.get(key))
                    del pending[rank]
            if not pending:
                self._in_flight = False
                return answers
            self._raise_on_failure(step)
            if time.monotonic() >= deadline:
                self._raise_hung(step, timeout, sorted(pending))
            time.sleep(POLL_SECONDS)

    def _raise_on_failure(self, step: int) -> None:
        reports = [decode(self._store.get(error_key(rank))) for rank in range(self.world_size)
                   if self._store.check([error_key(rank)])]
        if reports:
            # Peers of a failed rank fail in their next collective; the earliest is the cause.
            first = min(reports, key=lambda report: report["time"])
            self._shutdown(FAILURE_GRACE_SECONDS)
            raise RankFailed(first["rank"], first["step"], first["phase"], first["message"],
                             first["traceback"])
        for rank in range(self.world_size):
            code = self._processes.exit_code(rank)
            # An error report can land just before the exit; the next poll reads it.
            if code is not None and not self._store.check([error_key(rank)]):
                phase, phase_step, _ = self._phase(rank)
                log = self._log_tail(rank)
                self._shutdown(FAILURE_GRACE_SECONDS)
                raise RankFailed(rank, phase_step or step, phase,
                                 f"the rank process exited with status {code}", log, code)

    def _raise_hung(self, step: int, timeout: float, ranks: list[int]) -> None:
        phases = {rank: self._phase(rank) for rank in ranks}
        stacks = self._dump_stacks(ranks)
        now = time.time()
        self._shutdown(FAILURE_GRACE_SECONDS)
        raise RankHung(step, timeout, tuple(
            StuckRank(rank, phases[rank][0], max(0.0, now - phases[rank][2]), stacks[rank])
            for rank in ranks))

    def _phase(self, rank: int) -> tuple[str, int, float]:
        if not self._store.check([phase_key(rank)]):
            return "setup", 0, self._run_dir.stat().st_mtime
        phase = decode(self._store.get(phase_key(rank)))
        return phase["phase"], phase["step"], phase["since"]

    def _dump_stacks(self, ranks: list[int]) -> dict[int, str]:
        files = {rank: self._run_dir / f"stack-rank{rank}.txt" for rank in ranks}
        sizes = {rank: _size(path) for rank, path in files.items()}
        for rank in ranks:
            self._processes.send_signal(rank, signal.SIGUSR1)
        deadline = time.monotonic() + STACK_WAIT_SECONDS
        while time.monotonic() < deadline:
            grown = {rank: _size(path) for rank, path in files.items()}
            if all(grown[rank] > sizes[rank] for rank in ranks):
                time.sleep(0.1)  # let faulthandler finish writing every thread
                break
            time.sleep(0.02)
        return {rank: _read_from(path, sizes[rank]) for rank, path in files.items()}

    def _log_tail(self, rank: int, lines: int = 40) -> str:
        text = _read_from(self._run_dir / f"rank{rank}.log", 0)
        return "\n".join(text.splitlines()[-lines:])

    def _shutdown(self, grace: float) -> None:
        try:
            if self._store is not None:
                self._store.set(command_key(self._command + 1), encode({"op": STOP}))
        except DistError:
            logger.warning("could not send stop to the ranks; ending them by signal")
        self._processes.stop(grace)
        self._store = None
        if self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)
        self._state = "stopped"
        logger.info("stopped %d ranks", self.world_size)


def _validate(strategy: str, world_size: int, backend: str, step_timeout: float,
              start_timeout: float) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"invalid strategy: {strategy!r} (expected one of "
                         f"{', '.join(STRATEGIES)})")
    if not (isinstance(world_size, int) and world_size >= 1):
        raise ValueError(f"invalid world size: {world_size!r} (expected an integer >= 1)")
    if backend not in BACKENDS:
        raise ValueError(f"invalid backend: {backend!r} (expected one of {', '.join(BACKENDS)})")
    for name, value in (("step timeout", step_timeout), ("start timeout", start_timeout)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"invalid {name}: {value!r} (expected a number of seconds > 0)")


def _resolve_backend(backend: str, world_size: int) -> str:
    devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if backend == "auto":
        return "nccl" if devices >= world_size else "gloo"
    if backend == "nccl" and devices < world_size:
        raise ValueError(f"invalid backend: 'nccl' (it needs one CUDA device per rank: "
                         f"{world_size} ranks, {devices} devices; use gloo)")
    return backend


def _rank_environment() -> dict[str, str]:
    # gloo and NCCL bind their sockets to the address of the interface named here.
    loopback = "lo0" if sys.platform == "darwin" else "lo"
    return dict(os.environ, GLOO_SOCKET_IFNAME=loopback, NCCL_SOCKET_IFNAME=loopback,
                PYTHONUNBUFFERED="1")


def _consolidated_checks(consolidated: dict[str, Any],
                         owned: dict[str, dict[str, torch.Tensor]]) -> tuple[Check, ...]:
    checks = []
    for name in dict.fromkeys([*owned, *consolidated]):
        entries = consolidated.get(name, {})
        owner = owned.get(name, {})
        for key in dict.fromkeys([*owner, *entries]):
            if key not in entries or key not in owner:
                where = "the consolidated state" if key not in entries else "the owner's state"
                checks.append(Check(f"{name}.{key}", "consolidated", False, math.inf, math.inf,
                                    -1, EXACT, detail=f"missing from {where}"))
                continue
            entry = entries[key]
            actual = decode_tensor(entry["value"], entry["dtype"], f"{name}.{key}",
                                   entry["shape"])
            checks.append(compare(f"{name}.{key}", "consolidated", actual, owner[key], EXACT))
    return tuple(checks)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as file:
            file.seek(offset)
            return file.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
