"""Summaries of large tensors: shape, norm, range, and the elements a check got most wrong."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .record import ParamRecord


@dataclass(frozen=True)
class TensorSummary:
    """A tensor described without printing it."""

    shape: tuple[int, ...]
    dtype: str
    """The dtype's short name, e.g. `float32`."""
    numel: int
    norm: float
    """The 2-norm over every element (the real and imaginary parts of complex ones)."""
    min: float
    """Smallest finite element; nan when there is none."""
    max: float
    """Largest finite element; nan when there is none."""
    nonfinite: int
    """Elements that are nan or ±inf."""


@dataclass(frozen=True)
class WorstElement:
    """One element of a parameter where torch's result is furthest from the reference's."""

    index: tuple[int, ...]
    """Index into the parameter's real view (complex parameters gain a last axis of 2)."""
    flat_index: int
    error: float
    """|after − (before + computed update)|, the sum rounded to the parameter's dtype."""
    actual: float
    """The element after torch's step."""
    expected: float
    """before + computed update at the element."""


def summarise(tensor: torch.Tensor) -> TensorSummary:
    """Return the shape, dtype, norm, finite range and non-finite count of `tensor`."""
    values = _real(tensor.detach()).double().reshape(-1)
    finite = values[torch.isfinite(values)]
    norm = float(torch.linalg.vector_norm(values)) if values.numel() else 0.0
    low = float(finite.min()) if finite.numel() else math.nan
    high = float(finite.max()) if finite.numel() else math.nan
    return TensorSummary(tuple(tensor.shape), str(tensor.dtype).removeprefix("torch."),
                         tensor.numel(), norm, low, high, values.numel() - finite.numel())


def worst_elements(param: ParamRecord, count: int = 5) -> tuple[WorstElement, ...]:
    """Return up to `count` elements with the largest error of the parameter check, worst first.

    The error is |after − (before + computed update)| per element. The sum is rounded to the
    parameter's dtype, as the reference's own parameter is, so an element the check finds
    equal has no error here either; such elements are left out. A non-finite error ranks
    above every finite one. Empty for a skipped parameter or a record without a computed
    update.
    """
    if param.computed_update is None or param.skipped:
        return ()
    before, update = _real(param.before.detach()), _real(param.computed_update)
    if before.shape != update.shape or before.dtype != update.dtype:
        return ()
    after = _real(param.after.detach()).double()
    expected = (before + update).double()
    if after.shape != expected.shape:
        return ()
    error = (after - expected).abs().reshape(-1)
    ranked = torch.where(torch.isnan(error), torch.full_like(error, math.inf), error)
    # A nan error ranks as inf, but equal infinities and nan against nan are matches.
    flat_after, flat_expected = after.reshape(-1), expected.reshape(-1)
    matched = (flat_after == flat_expected) | (flat_after.isnan() & flat_expected.isnan())
    ranked = torch.where(matched, 0.0, ranked)
    top = [i for i in torch.topk(ranked, min(count, error.numel())).indices.tolist()
           if ranked[i] > 0]
    return tuple(WorstElement(_unravel(i, after.shape), i, float(error[i]), float(flat_after[i]),
                              float(flat_expected[i])) for i in top)


def _unravel(flat: int, shape: torch.Size) -> tuple[int, ...]:
    return tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), shape))


def _real(tensor: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(tensor.resolve_conj()) if tensor.is_complex() else tensor
