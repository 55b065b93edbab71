"""Text for numbers and tensors: a few significant digits, never a whole large tensor."""

from __future__ import annotations

import math

import torch

ELEMENT_LIMIT = 3
"""Elements of a tensor shown before the rest is summarised as `… (N more)`."""


def format_number(value: float) -> str:
    """Format a value with 6 significant digits, as `-0.203790`, `14.0928` or `1.00000e-08`."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    return f"{value:#.6g}"


def format_error(value: float) -> str:
    """Format an error (abs or rel) with 3 significant digits, as `0` or `1.49e-08`."""
    if math.isinf(value):
        return "inf"
    return f"{value:.3g}"


def format_scalar(value: complex | float | int | bool) -> str:
    """Format one tensor element, real or complex."""
    if isinstance(value, complex):
        sign = "-" if value.imag < 0 else "+"
        return f"{format_number(value.real)}{sign}{format_number(abs(value.imag))}j"
    return format_number(float(value))


def format_tensor(tensor: torch.Tensor, limit: int = ELEMENT_LIMIT) -> str:
    """Format a tensor's first `limit` elements, or a 1-element tensor as a plain number.

    Only the elements shown are copied out of the tensor, so a large tensor costs no more
    than a small one.
    """
    count = tensor.numel()
    if count == 1:
        return format_scalar(tensor.detach().reshape(-1)[0].item())

    shown = tensor.detach().reshape(-1)[:max(limit, 1)].tolist()
    text = ", ".join(format_scalar(value) for value in shown)
    if count > len(shown):
        text += f", … ({count - len(shown)} more)"
    return f"[{text}]"
