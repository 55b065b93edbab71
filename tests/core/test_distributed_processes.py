"""Rank processes end with their launcher, even when the launcher is killed."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

WORKER = b"optimstep.core.distributed.worker"

LAUNCHER = """
import sys, time
from optimstep.core.distributed import DistributedRun
run = DistributedRun(strategy="ddp", world_size=2).start()
run.step()
print(*run.pids, flush=True)
time.sleep(600)
"""


def rank_alive(pid: int) -> bool:
    """Whether `pid` is still a rank process (and not a later process that reused the id)."""
    try:
        return WORKER in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_until_gone(pids: list[int], limit: float = 60.0) -> list[int]:
    """Return the pids still alive once all are gone or `limit` seconds have passed."""
    deadline = time.monotonic() + limit
    while any(rank_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if rank_alive(pid)]


def test_ranks_exit_when_launcher_is_killed():
    # SIGKILL runs no cleanup in the launcher: idle ranks notice on their own that the store
    # and their parent are gone.
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER], stdout=subprocess.PIPE,
                                text=True)
    try:
        pids = [int(pid) for pid in launcher.stdout.readline().split()]
        os.kill(launcher.pid, signal.SIGKILL)
        launcher.wait()
        assert len(pids) == 2
        assert wait_until_gone(pids) == []
    finally:
        launcher.kill()
        launcher.wait()
