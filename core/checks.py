"""Checks: compare a reference tensor with torch's, in abs, rel and ulp error."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# Default tolerances per dtype. float32 keeps the allclose defaults (rtol=1e-5, atol=1e-8)
# that the original verification script used; the others follow torch's own optimizer
# tests (torch/testing/_internal/common_optimizers.py, torch 2.x).
_DEFAULT_TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float64: (1e-7, 1e-7),
    torch.float32: (1e-5, 1e-8),
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
}

# Integer views used to measure ulp distance, per floating dtype.
_INT_VIEWS: dict[torch.dtype, torch.dtype] = {
    torch.float64: torch.int64,
    torch.float32: torch.int32,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
}


@dataclass(frozen=True)
class Tolerance:
    """Bounds of `|actual - expected| <= atol + rtol * |expected|`, as in `torch.allclose`."""

    rtol: float = 1e-5
    """Relative tolerance."""
    atol: float = 1e-8
    """Absolute tolerance."""

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"invalid {name}: {value!r} (expected a finite number >= 0)")

    @classmethod
    def for_dtype(cls, dtype: torch.dtype) -> Tolerance:
        """Return the default tolerance for parameters of `dtype`."""
        rtol, atol = _DEFAULT_TOLERANCES.get(dtype, _DEFAULT_TOLERANCES[torch.float32])
        return cls(rtol=rtol, atol=atol)


@dataclass(frozen=True)
class Check:
    """One comparison of a reference value against the value torch produced."""

    name: str
    """What was compared, e.g. `weight.exp_avg`."""
    mode: str
    """`single` (reference started from torch's state) or `carried` (its own state)."""
    passed: bool
    """Whether every element is within tolerance, with non-finite values matching exactly."""
    max_abs_error: float
    """Largest |actual - expected| over finite pairs; inf where non-finite values disagree."""
    max_rel_error: float
    """Largest |actual - expected| / |expected| over finite pairs with expected != 0."""
    max_ulp: int
    """Largest distance in units in the last place; -1 where non-finite values disagree."""
    tolerance: Tolerance
    """Tolerance the check used."""
    nonfinite_mismatches: int = 0
    """Elements where one side is nan or inf and the other is not the same value."""
    worst_index: tuple[int, ...] = ()
    """Index of the element with the largest abs error (empty for scalars)."""
    detail: str = ""
    """Extra context, e.g. a shape or dtype mismatch."""


def ulp_distance(actual: torch.Tensor, expected: torch.Tensor) -> torch.Tensor:
    """Return the elementwise distance in ulps between two tensors of one floating dtype.

    Floats are mapped onto integers that increase with the value (sign-magnitude to two's
    complement), so the distance counts the representable values between the two.
    """
    int_dtype = _INT_VIEWS.get(actual.dtype)
    if int_dtype is None:
        raise TypeError(f"ulp distance needs a floating tensor, got {actual.dtype}")

    def ordered(x: torch.Tensor) -> torch.Tensor:
        bits = x.contiguous().view(int_dtype).to(torch.int64)
        # A set sign bit reads as a negative integer; mirror it so -0.0 maps to 0.
        return torch.where(bits < 0, torch.iinfo(int_dtype).min - bits, bits)

    a, b = ordered(actual), ordered(expected)
    if int_dtype == torch.int64:
        # a - b cannot overflow when both have one sign; across zero it can, so add the
        # magnitudes in float64 there (such distances are astronomically large anyway).
        same_sign = (a >= 0) == (b >= 0)
        return torch.where(same_sign, (a - b).abs().double(), a.abs().double() + b.abs().double())
    return (a - b).abs()


def _as_real(x: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(x) if x.is_complex() else x


def compare(
    name: str, mode: str, actual: torch.Tensor, expected: torch.Tensor, tolerance: Tolerance,
    operands: torch.Tensor | None = None,
) -> Check:
    """Compare torch's `actual` against the reference's `expected`, elementwise.

    nan matches nan and inf matches the same inf; any other non-finite value on either
    side fails the check and is counted, so a non-finite result never passes by accident.

    `operands`, where given, is the magnitude of the values `expected` was computed from,
    e.g. |x| + |x'| for an update x' = x + Δ. Rounding errors scale with the operands, not
    with a result that cancels to near zero. The bound then is
    atol + rtol·max(|expected|, operands), where non-finite operands count as 0.
    """
    actual = _as_real(actual.detach())
    expected = _as_real(expected.detach())
    if actual.shape != expected.shape or actual.dtype != expected.dtype:
        return Check(name, mode, False, math.inf, math.inf, -1, tolerance,
                     detail=f"shape/dtype {tuple(actual.shape)} {actual.dtype} vs "
                            f"{tuple(expected.shape)} {expected.dtype}")
    if not actual.is_floating_point():
        equal = bool(torch.equal(actual, expected))
        error = 0.0 if equal else float((actual.double() - expected.double()).abs().max())
        return Check(name, mode, equal, error, error, 0 if equal else -1, tolerance)

    if torch.equal(actual, expected):
        # Bit-identical (the usual case for the torch-order reference): no error to measure.
        # torch.equal is False wherever nan appears, so those go the long way below.
        return Check(name, mode, True, 0.0, 0.0, 0, tolerance)

    a64, e64 = actual.double(), expected.double()
    finite = torch.isfinite(a64) & torch.isfinite(e64)
    same_nonfinite = ~finite & ((torch.isnan(a64) & torch.isnan(e64)) | (a64 == e64))
    mismatches = int((~finite & ~same_nonfinite).sum())

    diff = torch.where(finite, (a64 - e64).abs(), torch.zeros_like(a64))
    scale = e64.abs()
    rel = torch.where(finite & (scale > 0), diff / scale.clamp_min(1e-300), torch.zeros_like(a64))
    if operands is not None:
        magnitude = _as_real(operands.detach()).double().abs()
        scale = torch.maximum(scale, torch.where(torch.isfinite(magnitude), magnitude, 0.0))
    within = diff <= tolerance.atol + tolerance.rtol * torch.where(finite, scale, 0.0)
    ulps = torch.where(finite, ulp_distance(actual, expected).double(), torch.zeros_like(a64))

    max_abs = float(diff.max()) if diff.numel() else 0.0
    worst = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape)) \
        if diff.dim() and diff.numel() else ()
    passed = mismatches == 0 and bool(within.all())
    if mismatches:
        return Check(name, mode, False, math.inf, math.inf, -1, tolerance, mismatches, worst,
                     detail=f"{mismatches} non-finite value(s) differ")
    return Check(name, mode, passed, max_abs, float(rel.max()) if rel.numel() else 0.0,
                 int(ulps.max()) if ulps.numel() else 0, tolerance, 0, worst)
