"""The Computed vs actual panel: the rule's update against torch's, in abs and ulp."""

from __future__ import annotations

import torch
from rich.console import RenderableType

from optimstep.core import ParamRecord, StepRecord, ulp_distance
from optimstep.core.bitwise import identical

from .base import RecordPanel
from .format import format_error
from .table import Cell, FittedTable

HEADERS = ["", "computed", "actual", "abs", "ulp"]


class UpdatesPanel(RecordPanel):
    """Per parameter: the computed update, the update torch applied, and their max difference."""

    TITLE = "Computed vs actual update"

    def content_for(self, record: StepRecord) -> RenderableType:
        return FittedTable([_row(p) for p in record.params], HEADERS)


def _row(param: ParamRecord) -> list[Cell]:
    if param.skipped:
        return [param.name, "skipped", "", "", ""]
    computed, actual = param.computed_update, param.actual_update
    if computed is None or computed.shape != actual.shape or computed.dtype != actual.dtype:
        return [param.name, "—", actual, "—", "—"]
    return [param.name, computed, actual, *_difference(actual, computed)]


def _difference(actual: torch.Tensor, computed: torch.Tensor) -> tuple[str, str]:
    if actual.is_complex():
        actual = torch.view_as_real(actual.resolve_conj())
        computed = torch.view_as_real(computed.resolve_conj())
    if actual.numel() == 0 or identical(actual, computed):
        # Equal bits and no nan: no error to measure, which on a large tensor takes long.
        return "0", "0"
    error = (actual.double() - computed.double()).abs().max().item()
    return format_error(error), str(int(ulp_distance(actual, computed).max().item()))
