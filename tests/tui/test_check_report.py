"""The Rich report of `check`: number and tensor formatting, step blocks, the summary."""

import dataclasses
import io
import json
import math

import pytest
import torch
from rich.console import Console

from optimstep.core import Stepper, preset
from optimstep.core.export import CheckTally
from optimstep.core.trace import record_from_dict, record_to_dict
from optimstep.tui.report import StepReport, Summary, format_tensor


def render(renderable, width=80):
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


class HalfUsed(torch.nn.Module):
    """Two layers of which the forward pass uses one, so the other gets no gradient."""

    def __init__(self):
        super().__init__()
        self.used = torch.nn.Linear(1, 1)
        self.unused = torch.nn.Linear(1, 1)

    def forward(self, x):
        return self.used(x)


@pytest.fixture(scope="module")
def skipped_record():
    torch.manual_seed(0)
    model = HalfUsed()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    batches = [(torch.ones(2, 1), torch.zeros(2, 1))]
    return Stepper(model, optimizer, torch.nn.MSELoss(), batches).step()


def test_one_element_tensor_is_a_number():
    assert format_tensor(torch.tensor([[-0.5]])) == "-0.5"


def test_small_tensor_printed_whole():
    assert format_tensor(torch.tensor([1.0, 2.5, -3.0])) == "[1, 2.5, -3]"


def test_float32_shows_seven_digits():
    assert format_tensor(torch.tensor(0.1, dtype=torch.float32)) == "0.1"


def test_float64_shows_more_digits():
    assert format_tensor(torch.tensor(1 / 3, dtype=torch.float64)) == "0.333333333333"


def test_nonfinite_as_words():
    assert format_tensor(torch.tensor([math.nan, math.inf])) == "[nan, inf]"


def test_large_tensor_summarised():
    norm = math.sqrt(sum(i * i for i in range(100)))
    text = format_tensor(torch.arange(100.0).reshape(10, 10))
    assert text == f"shape [10, 10] · norm {norm:.4g} · min 0 · max 99 · first [0, 1, 2, 3, …]"


def test_large_complex_tensor_has_no_min_max():
    text = format_tensor(torch.ones(8, dtype=torch.complex64))
    assert "min" not in text


def test_step_report_fits_80_columns():
    record = Stepper.from_scenario(preset()).step()
    lines = render(StepReport(record, full=True)).splitlines()
    assert max(len(line) for line in lines) <= 80


def test_step_report_lists_every_check_in_full():
    record = Stepper.from_scenario(preset()).step()
    text = render(StepReport(record, full=True))
    assert text.count(" single ") == 8


def test_step_report_pairs_modes():
    record = Stepper.from_scenario(preset()).step()
    text = render(StepReport(record))
    assert "weight.exp_avg_sq  PASS    PASS" in text


def test_skipped_parameter_shown(skipped_record):
    text = render(StepReport(skipped_record))
    assert "skipped: torch leaves the parameter unchanged" in text


def test_skipped_parameter_round_trip(skipped_record):
    decoded = record_from_dict(json.loads(json.dumps(record_to_dict(skipped_record))))
    assert decoded.param("unused.weight").grad is None


def test_summary_lists_failing_steps_as_ranges():
    records = Stepper.from_scenario(preset()).run(2)
    tally = CheckTally()
    for record in records:
        tally.add(record)
    tally.failed_steps = [1, 2, 3, 7]
    assert "Failing steps: 1-3, 7" in render(Summary(tally))


def tally_of(records):
    tally = CheckTally()
    for record in records:
        tally.add(record)
    return tally


def test_summary_warns_of_nonfinite_loss():
    scenario = dataclasses.replace(preset(), hyperparameters={"lr": 1e30})
    tally = tally_of(Stepper.from_scenario(scenario).run(3))
    assert tally.first_nonfinite_loss == (2, math.inf)
    assert ("warning: non-finite loss (inf) first at step 2: checks match nan with nan and "
            "inf with inf, so they pass on a diverged run") in render(Summary(tally), width=200)


def test_summary_without_nonfinite_loss_has_no_warning():
    tally = tally_of(Stepper.from_scenario(preset()).run(2))
    assert tally.first_nonfinite_loss is None
    assert "warning" not in render(Summary(tally))


def test_summary_names_disagreeing_nonfinite_ulp():
    tally = tally_of(Stepper.from_scenario(preset()).run(1))
    next(iter(tally.kinds.values())).max_ulp = -1
    assert "max ulp none (non-finite values differ)" in render(Summary(tally))
