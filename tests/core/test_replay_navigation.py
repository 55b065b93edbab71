"""TraceSource.back and goto: moving through a recorded trace in both directions."""

import pytest

from optimstep.core import NoMoreSteps, Stepper, preset
from optimstep.core.replay import TraceSource


@pytest.fixture(scope="module")
def records():
    return Stepper.from_scenario(preset()).run(5)


@pytest.fixture
def source(records):
    return TraceSource(records, "run.jsonl")


def test_goto_returns_record_of_step(source, records):
    assert source.goto(3) is records[2]


def test_goto_sets_step_count(source):
    source.goto(4)
    assert source.step_count == 4


def test_goto_keeps_records_up_to_step(source, records):
    source.goto(4)
    assert source.records == records[:4]


def test_goto_zero_returns_none(source):
    source.goto(3)
    assert source.goto(0) is None
    assert source.step_count == 0


def test_goto_last_step(source, records):
    assert source.goto(5) is records[-1]


def test_step_after_goto_continues_from_there(source, records):
    source.goto(2)
    assert source.step() is records[2]


def test_step_after_goto_last_raises(source):
    source.goto(5)
    with pytest.raises(NoMoreSteps):
        source.step()


@pytest.mark.parametrize("step", [-1, 6, 2.0, True, "3"])
def test_goto_rejects_invalid_step(source, step):
    with pytest.raises(ValueError, match=r"invalid step: .* \(expected an integer from 0 to 5"):
        source.goto(step)


def test_goto_rejected_keeps_position(source):
    source.goto(2)
    with pytest.raises(ValueError):
        source.goto(6)
    assert source.step_count == 2


def test_back_one_step(source, records):
    source.goto(4)
    assert source.back() is records[2]
    assert source.step_count == 3


def test_back_to_start_returns_none(source):
    source.goto(2)
    assert source.back(2) is None
    assert source.step_count == 0


@pytest.mark.parametrize("steps", [-1, 3, 1.5, False])
def test_back_rejects_invalid_count(source, steps):
    source.goto(2)
    with pytest.raises(ValueError, match=r"invalid number of steps to go back: .* \(expected "
                                         r"an integer from 0 to 2"):
        source.back(steps)


def test_back_then_forward_gives_same_records(source, records):
    source.goto(5)
    source.back(3)
    assert [source.step() for _ in range(3)] == records[2:]
