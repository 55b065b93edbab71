"""TraceSource: replaying recorded steps through the interface of a Stepper."""

import pytest

from optimstep.core import NoMoreSteps, Stepper, preset
from optimstep.core.replay import TraceSource, panels_for
from optimstep.core.rules.adam import Adam
from optimstep.core.trace import write_records


@pytest.fixture(scope="module")
def records():
    return Stepper.from_scenario(preset()).run(3)


@pytest.fixture
def source(records):
    return TraceSource(records, "run.jsonl")


def test_step_returns_records_in_order(source, records):
    assert [source.step() for _ in range(3)] == records


def test_step_after_last_raises(source):
    source.run(3)
    with pytest.raises(NoMoreSteps):
        source.step()


def test_step_count_follows_steps(source):
    source.run(2)
    assert source.step_count == 2


def test_records_holds_replayed_steps(source, records):
    source.step()
    assert source.records == records[:1]


def test_reset_returns_to_step_zero(source):
    source.run(3)
    source.reset()
    assert source.step_count == 0


def test_step_after_reset_starts_again(source, records):
    source.run(3)
    source.reset()
    assert source.step() is records[0]


def test_name(source):
    assert source.name == "run.jsonl"


def test_reference(source):
    assert source.reference == "torch"


def test_rule_title(source):
    assert source.rule.title == "Adam"


def test_total_steps(source):
    assert source.total_steps == 3


def test_panels_given_are_kept(records):
    panels = (("Moments", ("m",)),)
    assert TraceSource(records, panels=panels).rule.panels == panels


def test_panels_of_known_rule_keep_present_terms(records):
    # The default scenario has no amsgrad, so Adam's v_max never appears.
    assert panels_for(records)[0] == ("Moments", ("m", "v"))


def test_panels_of_unknown_rule_list_all_terms(records):
    renamed = [type(r)(r.step, r.loss, r.params, r.checks, "Mystery", r.hyperparameters)
               for r in records]
    assert panels_for(renamed) == (("Terms", tuple(t.name for t in records[0].params[0].terms)),)


def test_empty_records_rejected():
    with pytest.raises(ValueError, match="empty"):
        TraceSource([])


def test_from_file(tmp_path, records):
    path = tmp_path / "run.jsonl"
    with open(path, "w", encoding="utf-8") as file:
        write_records(records, file, Adam.panels)
    source = TraceSource.from_file(path)
    assert source.name == "run.jsonl"
    assert source.total_steps == 3
    assert source.rule.panels == Adam.panels
