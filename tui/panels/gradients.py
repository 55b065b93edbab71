"""The Gradients panel: the gradient torch stepped with, per parameter."""

from __future__ import annotations

from rich.console import RenderableType

from optimstep.core import StepRecord

from .base import RecordPanel
from .table import FittedTable

SKIPPED = "skipped (grad is None)"


class GradientsPanel(RecordPanel):
    """Each parameter's gradient; a parameter without one is shown as skipped."""

    TITLE = "Gradients"

    def content_for(self, record: StepRecord) -> RenderableType:
        return FittedTable([[p.name, SKIPPED if p.grad is None else p.grad]
                            for p in record.params], ["", "gradient"], show_header=False)
