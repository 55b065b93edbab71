"""Hyper-parameters and tensor values as text that reads back exactly."""

from __future__ import annotations

from typing import Any

import torch


def format_value(value: Any) -> str:
    """Write a hyper-parameter as a Python literal that `parse_value` reads back.

    A one-element tensor is written as the shortest number that gives the same value in
    the tensor's dtype, so a float32 lr of 0.1 reads `0.1`, not `0.10000000149011612`.
    """
    if isinstance(value, torch.Tensor):
        if value.numel() == 1:
            return _shortest(value)
        return repr(value.tolist())
    if isinstance(value, tuple):
        items = [format_value(item) for item in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, list):
        return f"[{', '.join(format_value(item) for item in value)}]"
    return repr(value)


def _shortest(tensor: torch.Tensor) -> str:
    number = tensor.item()
    if not isinstance(number, float) or tensor.dtype == torch.float64:
        return repr(number)
    for digits in range(1, 18):
        text = f"{number:.{digits}g}"
        if torch.tensor(float(text), dtype=tensor.dtype) == tensor.detach().cpu().reshape(()):
            return repr(float(text))
    return repr(number)


def format_tensor_values(tensor: torch.Tensor) -> str:
    """Write every element of a tensor as the shortest text that reads back to it."""
    if tensor.numel() == 1 and tensor.dim() == 0:
        return _shortest(tensor)
    flat = [_shortest(element) for element in tensor.detach().reshape(-1)]
    return _nest(flat, list(tensor.shape))


def _nest(items: list[str], shape: list[int]) -> str:
    if len(shape) <= 1:
        return f"[{', '.join(items)}]"
    size = len(items) // shape[0] if shape[0] else 0
    rows = [_nest(items[i * size:(i + 1) * size], shape[1:]) for i in range(shape[0])]
    return f"[{', '.join(rows)}]"
