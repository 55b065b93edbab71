"""The element the formula, summary and plots show: a parameter name and a flat index."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Selection:
    """A parameter by name and one element of it by flat index into its real view.

    The app keeps the selection, not a panel, so it survives steps, resets and rewinds.
    Complex parameters count each element twice (real and imaginary part), as the rules do.
    """

    param: str = ""
    """Name of the parameter; empty until the app has read the parameters."""
    index: int = 0
    """Flat index of the element."""


Shapes = Sequence[tuple[str, tuple[int, ...]]]
"""(name, real-view shape) of each parameter, in param-group order."""


def real_shape(tensor: torch.Tensor) -> tuple[int, ...]:
    """Return the shape of a tensor's real view: complex tensors gain a last axis of 2."""
    return (*tensor.shape, 2) if tensor.is_complex() else tuple(tensor.shape)


def element_count(shape: tuple[int, ...]) -> int:
    """Return the elements of a shape (1 for a 0-d tensor)."""
    count = 1
    for size in shape:
        count *= size
    return count


def fitted(selection: Selection, shapes: Shapes) -> Selection:
    """Return the selection moved onto an existing element: the same one where it exists.

    An unknown parameter falls back to the first; an index past the end to the last element.
    """
    if not shapes:
        return selection
    names = [name for name, _ in shapes]
    name = selection.param if selection.param in names else names[0]
    count = element_count(dict(shapes)[name])
    return Selection(name, min(max(selection.index, 0), max(count - 1, 0)))


def next_param(selection: Selection, shapes: Shapes, offset: int) -> Selection:
    """Return the selection on the parameter `offset` places on (cyclic), same index if it fits."""
    if not shapes:
        return selection
    names = [name for name, _ in shapes]
    position = names.index(selection.param) if selection.param in names else 0
    name = names[(position + offset) % len(names)]
    return fitted(Selection(name, selection.index), shapes)


def next_element(selection: Selection, shapes: Shapes, offset: int) -> Selection:
    """Return the selection on the element `offset` places on (cyclic) within its parameter."""
    if not shapes:
        return selection
    current = fitted(selection, shapes)
    count = max(element_count(dict(shapes)[current.param]), 1)
    return Selection(current.param, (current.index + offset) % count)


def index_text(shape: tuple[int, ...], flat: int) -> str:
    """Write a flat index as `[i, j]` for a shape, or an empty string for a 0-d tensor."""
    if not shape:
        return ""
    index = []
    for size in reversed(shape):
        index.append(flat % size if size else 0)
        flat = flat // size if size else 0
    return "[" + ", ".join(str(i) for i in reversed(index)) + "]"


_ELEMENT = re.compile(r"^\s*(?P<name>[^\[\s]+)\s*(\[(?P<index>[\d,\s]*)\])?\s*$")


def parse_element(text: str, shapes: Shapes) -> Selection | None:
    """Read `name` or `name[i, j]` as a selection; None if the name or index is invalid."""
    match = _ELEMENT.match(text)
    if match is None or match.group("name") not in dict(shapes):
        return None
    shape = dict(shapes)[match.group("name")]
    if match.group("index") is None:
        return Selection(match.group("name"), 0)
    parts = [part for part in match.group("index").replace(",", " ").split()]
    if len(parts) != len(shape):
        return None
    flat = 0
    for part, size in zip(parts, shape):
        if int(part) >= size:
            return None
        flat = flat * size + int(part)
    return Selection(match.group("name"), flat)
