"""Programs run in a pseudo-terminal of a fixed size, with their output read back and timed."""

from __future__ import annotations

import fcntl
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Sequence
from pathlib import Path

TERM = "xterm-256color"
"""TERM the programs see: what an SSH session from a modern terminal usually sends."""

READ_BYTES = 65536


def optimstep_command() -> list[str]:
    """Return the command that starts the `optimstep` app of this interpreter's environment."""
    script = Path(sys.executable).with_name("optimstep")
    if script.exists():
        return [str(script)]
    found = shutil.which("optimstep")
    return [found] if found else [sys.executable, "-m", "optimstep.tui"]


def terminal_environment(threads: int | None = None) -> dict[str, str]:
    """Return the environment of a program in the pseudo-terminal: TERM set, no colour opt-out.

    `threads` caps torch's intra-op threads (OMP_NUM_THREADS), as the in-process benchmarks do.
    """
    env = {key: value for key, value in os.environ.items()
           if key not in ("NO_COLOR", "COLORTERM", "TEXTUAL", "TEXTUAL_DRIVER")}
    env["TERM"] = TERM
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


class Terminal:
    """A program running in a pseudo-terminal of `columns` x `rows`, its output collected.

    Every byte the program writes is kept in `output`, so a caller can count the bytes
    between two points; `read_until` returns the time a text first appeared.
    """

    def __init__(self, argv: Sequence[str], columns: int, rows: int,
                 env: dict[str, str] | None = None) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            list(argv), stdin=slave, stdout=slave, stderr=slave, env=env,
            start_new_session=True, close_fds=True)
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self.ended = False
        """True once the program closed the terminal, after which nothing more can be read."""
        self.closed = False

    def read(self, seconds: float) -> bytes:
        """Read whatever arrives within `seconds`; return it."""
        deadline = time.perf_counter() + seconds
        start = len(self.output)
        while not self.ended:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            self._read_once(left)
        return bytes(self.output[start:])

    def read_until(self, pattern: bytes, timeout: float) -> float:
        """Read until `pattern` (a regular expression) appears; return the time it arrived.

        Raise TimeoutError when it does not appear within `timeout` seconds or the program
        ends first.
        """
        expression = re.compile(pattern)
        deadline = time.perf_counter() + timeout
        start = len(self.output)
        while time.perf_counter() < deadline and not self.ended:
            if self._read_once(deadline - time.perf_counter()) and expression.search(
                    self.output, start):
                return time.perf_counter()
        raise TimeoutError(f"{pattern!r} did not appear within {timeout} s "
                           f"({len(self.output) - start} bytes read)")

    def read_until_quiet(self, quiet: float, timeout: float) -> bytes:
        """Read until no output arrived for `quiet` seconds or `timeout` passed; return it."""
        start = len(self.output)
        deadline = time.perf_counter() + timeout
        last = time.perf_counter()
        while not self.ended:
            now = time.perf_counter()
            if now - last >= quiet or now >= deadline:
                break
            if self._read_once(min(quiet - (now - last), deadline - now)):
                last = time.perf_counter()
        return bytes(self.output[start:])

    def send(self, data: bytes) -> None:
        """Write `data` to the program as if typed."""
        os.write(self.master, data)

    def wait(self, timeout: float) -> int | None:
        """Wait for the program to end, reading its output meanwhile; return its exit status."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.ended:
                time.sleep(0.01)
            else:
                self.read(0.01)
            status = self.process.poll()
            if status is not None:
                return status
        return None

    def close(self, quit_keys: bytes = b"q", timeout: float = 10.0) -> None:
        """End the program: send `quit_keys`, then SIGTERM and SIGKILL if it does not exit."""
        if self.process.poll() is None and quit_keys:
            self.send(quit_keys)
            self.wait(timeout)
        for stop in (signal.SIGTERM, signal.SIGKILL):
            if self.process.poll() is not None:
                break
            self.process.send_signal(stop)
            self.wait(timeout / 2)
        os.close(self.master)
        self.closed = True

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self.closed:
            self.close()

    def _read_once(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], max(0.0, timeout))
        if not ready:
            return False
        try:
            data = os.read(self.master, READ_BYTES)
        except OSError:
            # Linux reports EIO on the master once the program has closed the terminal.
            data = b""
        if not data:
            self.ended = True
            return False
        self.output += data
        return True
