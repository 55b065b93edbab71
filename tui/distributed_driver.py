"""The threads that drive a DistributedRun for the app: start, steps, consolidation, close."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from textual.message import Message

from optimstep.core.distributed import DistributedError, DistributedRun

from .distributed_messages import (PhasesRead, RanksClosed, RanksStarted, RanksStepped,
                                   RunStopped, StateConsolidated)

logger = logging.getLogger(__name__)

PHASE_POLL_SECONDS = 0.1
"""Interval of the phase reads, and of the checks for a request or a cancelled worker."""

STEP = "step"
CONSOLIDATE = "consolidate"
CLOSE = "close"


class RunDriver:
    """Calls a DistributedRun from one thread, in the order the app requests, and posts results.

    `serve` runs in a thread worker: it starts the run, serves step and consolidation
    requests until `close()`, and closes the run however it ends, so the app's event loop
    never waits on a rank. `watch` runs in a second thread worker and posts each rank's
    phase as it changes. Neither joins a collective: the run only reads and writes keys
    in the store it hosts.
    """

    def __init__(self, run: DistributedRun, post: Callable[[Message], object]) -> None:
        self.run = run
        self._post = post
        self._requests: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        self._closing = threading.Event()
        self._serving = threading.Event()
        self._finished = threading.Event()
        self._busy = False

    @property
    def finished(self) -> bool:
        """Whether `serve` has closed the run and returned."""
        return self._finished.is_set()

    def request_steps(self, count: int) -> None:
        """Queue `count` steps on every rank, after the requests before them."""
        self._requests.put((STEP, count))

    def request_consolidation(self) -> None:
        """Queue a check of ZeRO's consolidated state."""
        self._requests.put((CONSOLIDATE, 0))

    def close(self) -> None:
        """Stop the ranks: drop queued requests, and end the ranks at once if the run is busy.

        Returns at once; `serve` posts RanksClosed when no rank process is left.
        """
        self._closing.set()
        self._requests.put((CLOSE, 0))

    def stop(self, timeout: float) -> None:
        """Close the run from another thread once the app has gone; wait up to `timeout` s.

        Normally `serve` has closed it already. Otherwise the ranks are ended by signal
        while `serve` is busy, so that it returns and closes the run.
        """
        self.close()
        if not self._serving.is_set():
            self.run.close()
            return
        deadline = time.monotonic() + timeout
        while not self._finished.wait(PHASE_POLL_SECONDS) and time.monotonic() < deadline:
            if self._busy:
                self.run.interrupt()

    def serve(self, cancelled: Callable[[], bool]) -> None:
        """Start the run, then serve requests until `close()` or cancellation; always close it."""
        self._serving.set()
        try:
            if self._call(self._start):
                while (request := self._next(cancelled)) is not None:
                    if not self._call(self._serve_request, *request, cancelled):
                        break
        finally:
            self.run.close()
            self._finished.set()
            self._post(RanksClosed())

    def watch(self, cancelled: Callable[[], bool]) -> None:
        """Post each rank's phase when it changes, until `serve` returns."""
        last = None
        while not self._finished.is_set():
            stopping = self._closing.is_set() or cancelled()
            if stopping and not self._serving.is_set():
                return  # cancelled before `serve` began: no run to wait for
            if stopping and self._busy:
                # A start or step in flight would wait for its deadline; ending the ranks
                # makes it return within one poll. Repeated, because start() may still be
                # starting ranks.
                self.run.interrupt()
            phases, pids = self.run.phases(), self.run.pids
            if not stopping and (phases, pids) != last:
                last = (phases, pids)
                self._post(PhasesRead(phases, pids))
            self._finished.wait(PHASE_POLL_SECONDS)

    def _next(self, cancelled: Callable[[], bool]) -> tuple[str, int] | None:
        while not (self._closing.is_set() or cancelled()):
            try:
                request = self._requests.get(timeout=PHASE_POLL_SECONDS)
            except queue.Empty:
                continue
            if request[0] != CLOSE:
                return request
        return None

    def _call(self, job: Callable[..., None], *args: object) -> bool:
        self._busy = True
        try:
            job(*args)
            return True
        except DistributedError as error:
            self._report(error)
        except Exception as error:  # e.g. the store or a rank process could not start
            logger.exception("the distributed run stopped")
            self._report(error)
        finally:
            self._busy = False
        return False

    def _report(self, error: Exception) -> None:
        # A run ended by close() raises too, but the person asked for it: nothing to show.
        if not self._closing.is_set():
            self._post(RunStopped(error))

    def _start(self) -> None:
        started = time.monotonic()
        self.run.start()
        self._post(RanksStarted(self.run.pids, time.monotonic() - started))

    def _serve_request(self, kind: str, count: int, cancelled: Callable[[], bool]) -> None:
        if kind == CONSOLIDATE:
            checks = self.run.consolidate()
            self._post(StateConsolidated(self.run.step_count, checks))
            return
        for _ in range(count):
            if self._closing.is_set() or cancelled():
                return
            self._post(RanksStepped(self.run.step()))
