"""Summaries of large tensors and the elements a check got most wrong."""

from __future__ import annotations

import math

import pytest
import torch

from optimstep.core import ParamRecord, Stepper, preset
from optimstep.core.summary import summarise, worst_elements


def test_summary_shape_dtype_count():
    summary = summarise(torch.zeros(3, 4, dtype=torch.float64))
    assert (summary.shape, summary.dtype, summary.numel) == ((3, 4), "float64", 12)


def test_summary_norm_min_max():
    tensor = torch.tensor([3.0, -4.0])
    summary = summarise(tensor)
    assert summary.norm == pytest.approx(5.0)
    assert (summary.min, summary.max) == (-4.0, 3.0)


def test_summary_counts_nonfinite_and_skips_them_in_range():
    summary = summarise(torch.tensor([1.0, float("nan"), float("inf"), -2.0]))
    assert summary.nonfinite == 2
    assert (summary.min, summary.max) == (-2.0, 1.0)


def test_summary_of_all_nan_range_is_nan():
    assert math.isnan(summarise(torch.tensor([float("nan")])).min)


def record_with_errors(errors: torch.Tensor) -> ParamRecord:
    before = torch.zeros_like(errors)
    update = torch.ones_like(errors)
    return ParamRecord("w", 0, before, before + update + errors, torch.ones_like(errors),
                       computed_update=update)


def test_worst_elements_ranked_with_indices():
    errors = torch.zeros(3, 4)
    errors[2, 1], errors[0, 3] = 0.5, -0.25
    worst = worst_elements(record_with_errors(errors), 2)
    assert [w.index for w in worst] == [(2, 1), (0, 3)]
    assert worst[0].error == pytest.approx(0.5)
    assert worst[1].flat_index == 3


def test_worst_elements_rank_nan_first():
    errors = torch.tensor([0.5, float("nan"), 0.0])
    assert worst_elements(record_with_errors(errors), 1)[0].flat_index == 1


def test_worst_elements_empty_when_skipped():
    param = ParamRecord("w", 0, torch.zeros(2), torch.zeros(2), None)
    assert worst_elements(param) == ()


def test_worst_elements_of_large_tensor_count():
    errors = torch.zeros(1000, 1000)
    errors[412, 77] = 1e-3
    errors[0, :10] = 1e-4
    worst = worst_elements(record_with_errors(errors), 5)
    assert len(worst) == 5
    assert worst[0].index == (412, 77)


def test_worst_elements_leave_out_exact_elements():
    errors = torch.zeros(3, 4)
    errors[1, 2] = 0.5
    worst = worst_elements(record_with_errors(errors), 5)
    assert [w.index for w in worst] == [(1, 2)]


def test_worst_elements_match_nan_and_infinities():
    before = torch.tensor([0.0, 0.0, 0.0])
    update = torch.tensor([float("nan"), float("inf"), 1.0])
    record = ParamRecord("w", 0, before, before + update, torch.ones(3), computed_update=update)
    assert worst_elements(record, 3) == ()


def test_worst_elements_empty_when_check_finds_equal_bits():
    # A passing torch-order step: the summary must not list elements the check found equal.
    stepper = Stepper.from_scenario(preset("mlp"))
    record = stepper.run(3)[-1]
    errors = {check.name: check.max_abs_error for check in record.checks}
    for param in record.params:
        assert errors[f"{param.name}.param"] == 0
        assert worst_elements(param, 5) == ()
