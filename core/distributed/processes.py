"""The rank processes: started in their own process groups, ended by process id."""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

from .protocol import WorkerConfig

logger = logging.getLogger(__name__)

KILL_WAIT_SECONDS = 1.0
"""How long a rank gets to exit after SIGTERM before SIGKILL."""

WORKER_MODULE = "optimstep.core.distributed.worker"


class RankProcesses:
    """The processes of one run's ranks, in rank order.

    Each rank runs `python -m optimstep.core.distributed.worker` in a new session, so a
    Ctrl-C in the terminal reaches only the launcher, and signals aimed at a rank's process
    group reach nothing else. Whatever is still running when this object is collected or
    the interpreter exits is killed.
    """

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen] = []
        self._finalizer = weakref.finalize(self, _kill_all, self.processes)

    @property
    def pids(self) -> tuple[int, ...]:
        """Process ids in rank order."""
        return tuple(process.pid for process in self.processes)

    def start(self, config: WorkerConfig, env: dict[str, str], log: Path) -> None:
        """Start the next rank, its stdout and stderr going to `log`."""
        with open(log, "wb") as output:
            process = subprocess.Popen([sys.executable, "-m", WORKER_MODULE],
                                       stdin=subprocess.PIPE, stdout=output,
                                       stderr=subprocess.STDOUT, env=env,
                                       start_new_session=True)
        self.processes.append(process)
        process.stdin.write(pickle.dumps(config))
        process.stdin.close()
        logger.info("started rank %d as process %d", config.rank, process.pid)

    def exit_code(self, rank: int) -> int | None:
        """Return a rank's exit status, or None while it runs."""
        return self.processes[rank].poll()

    def send_signal(self, rank: int, signum: int) -> None:
        """Send a signal to a rank that is still running."""
        process = self.processes[rank]
        if process.poll() is None:
            process.send_signal(signum)

    def stop(self, grace: float) -> None:
        """Wait up to `grace` seconds for every rank to exit, then terminate, then kill."""
        deadline = time.monotonic() + grace
        while any(p.poll() is None for p in self.processes) and time.monotonic() < deadline:
            time.sleep(0.02)
        _kill_all(self.processes)


def _kill_all(processes: list[subprocess.Popen]) -> None:
    for signum in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in processes if p.poll() is None]
        for process in alive:
            _signal_group(process, signum)
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while any(p.poll() is None for p in alive) and time.monotonic() < deadline:
            time.sleep(0.02)
    for process in processes:
        if process.poll() is None:
            process.wait()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    # The rank leads its own process group (start_new_session); until it is reaped its pid,
    # and so its group id, cannot be reused by another process.
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass
    logger.info("sent %s to rank process %d", signal.Signals(signum).name, process.pid)
