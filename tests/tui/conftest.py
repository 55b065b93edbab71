"""Fixtures of the app tests, and a runner for `async def` tests (no asyncio plugin needed)."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from optimstep.core import NoMoreSteps, Scenario, StepRecord, Stepper
from optimstep.tui.app import OptimstepApp


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an `async def` test to completion in a fresh event loop."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True


@pytest.fixture
def stepper() -> Stepper:
    """A Stepper on the default scenario."""
    return Stepper.from_scenario(Scenario())


@pytest.fixture
def app(stepper: Stepper) -> OptimstepApp:
    """The app on the default scenario."""
    return OptimstepApp(stepper)


class RecordedSource:
    """A finite source that replays records as a trace file would, with the narrow interface."""

    def __init__(self, records: list[StepRecord], name: str, rule: object) -> None:
        self._all = records
        self.records: list[StepRecord] = []
        self.name = name
        self.rule = rule

    @property
    def step_count(self) -> int:
        return len(self.records)

    @property
    def reference(self) -> str:
        return self._all[0].reference

    def step(self) -> StepRecord:
        if self.step_count == len(self._all):
            raise NoMoreSteps(f"the trace ends after step {len(self._all)}")
        self.records.append(self._all[self.step_count])
        return self.records[-1]

    def reset(self) -> None:
        self.records.clear()


@pytest.fixture
def trace(stepper: Stepper) -> RecordedSource:
    """A three-step recording of the default scenario, replayed like a trace."""
    records = stepper.run(3)
    return RecordedSource(records, stepper.name, stepper.rule)
