"""Tests of compare() and ulp_distance() against hand-built float values."""

import math

import pytest
import torch

from optimstep.core import Tolerance, compare, ulp_distance
from optimstep.core.bitwise import identical

TOL = Tolerance(rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_ulp_distance_counts_next_float(dtype):
    one = torch.tensor([1.0], dtype=dtype)
    after = torch.nextafter(one, torch.tensor([2.0], dtype=dtype))
    assert ulp_distance(after, one).item() == 1


def test_ulp_distance_crosses_zero():
    smallest = torch.tensor([torch.finfo(torch.float32).tiny * 2**-23])
    assert ulp_distance(smallest, -smallest).item() == 2


def test_ulp_distance_of_signed_zeros_is_zero():
    assert ulp_distance(torch.tensor([0.0]), torch.tensor([-0.0])).item() == 0


def test_compare_equal_tensors_pass_with_zero_error():
    x = torch.randn(5)
    check = compare("w.param", "single", x, x.clone(), TOL)
    assert (check.passed, check.max_abs_error, check.max_ulp) == (True, 0.0, 0)


def test_compare_reports_errors_of_worst_element():
    expected = torch.tensor([1.0, 2.0, 4.0])
    actual = torch.tensor([1.0, 2.0, 4.5])
    check = compare("w.param", "single", actual, expected, TOL)
    assert not check.passed
    assert check.max_abs_error == 0.5
    assert check.max_rel_error == 0.125
    assert check.worst_index == (2,)


def test_compare_within_tolerance_passes():
    expected = torch.tensor([1.0])
    actual = torch.nextafter(expected, torch.tensor([2.0]))
    check = compare("w.param", "single", actual, expected, TOL)
    assert check.passed
    assert check.max_ulp == 1


def test_compare_nan_matches_nan():
    x = torch.tensor([1.0, math.nan])
    assert compare("w.param", "single", x, x.clone(), TOL).passed


def test_compare_nan_against_number_fails():
    check = compare("w.param", "single", torch.tensor([math.nan]), torch.tensor([1.0]), TOL)
    assert not check.passed
    assert check.nonfinite_mismatches == 1


def test_compare_opposite_infinities_fail():
    check = compare("w.param", "single", torch.tensor([math.inf]), torch.tensor([-math.inf]), TOL)
    assert not check.passed


def test_compare_same_infinity_passes():
    x = torch.tensor([math.inf, 2.0])
    assert compare("w.param", "single", x, x.clone(), TOL).passed


def test_compare_shape_mismatch_fails_with_detail():
    check = compare("w.param", "single", torch.zeros(2), torch.zeros(3), TOL)
    assert not check.passed
    assert "shape" in check.detail


def test_compare_complex_views_as_real():
    x = torch.tensor([1 + 2j], dtype=torch.complex64)
    y = torch.tensor([1 + 3j], dtype=torch.complex64)
    check = compare("z.param", "single", x, y, TOL)
    assert check.max_abs_error == 1.0


@pytest.mark.parametrize("value", [-1.0, math.nan, math.inf])
def test_tolerance_rejects_invalid_bounds(value):
    with pytest.raises(ValueError, match="rtol"):
        Tolerance(rtol=value)


def test_tolerance_for_float16_is_looser_than_float32():
    assert Tolerance.for_dtype(torch.float16).rtol > Tolerance.for_dtype(torch.float32).rtol


@pytest.mark.parametrize("values", [
    [float("nan"), 1.0], [float("inf"), -float("inf")], [0.0, -0.0], [1e-45, 3.4e38]])
def test_identical_agrees_with_compare_on_equal_bits(values):
    # The stepper skips compare for bitwise-equal tensors; compare must find no error there.
    actual = torch.tensor(values)
    expected = actual.clone()
    check = compare("x", "single", actual, expected, TOL)
    assert identical(actual, expected)
    assert (check.passed, check.max_abs_error, check.max_rel_error, check.max_ulp) == (
        True, 0.0, 0.0, 0)


def test_identical_tells_signed_zeros_and_nan_payloads_apart():
    assert not identical(torch.tensor([0.0]), torch.tensor([-0.0]))
    payload = torch.tensor([0x7FC00001], dtype=torch.int32).view(torch.float32)
    assert not identical(payload, torch.tensor([float("nan")]))
