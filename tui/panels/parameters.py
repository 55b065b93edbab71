"""The Parameters panel: each parameter before and after the step."""

from __future__ import annotations

from rich.console import RenderableType

from optimstep.core import StepRecord

from .base import RecordPanel, Start, hint
from .table import FittedTable


class ParametersPanel(RecordPanel):
    """Each parameter's value before → after the step; its initial value before step 1."""

    TITLE = "Parameters"

    def content_for(self, record: StepRecord) -> RenderableType:
        self.set_title("Parameters: before → after")
        return FittedTable([[p.name, p.before, "→", p.after] for p in record.params],
                           ["", "before", "", "after"], show_header=False)

    def content_at_start(self, start: Start) -> RenderableType:
        self.set_title("Parameters: initial")
        if not start.params:
            return hint()
        return FittedTable([[name, value] for name, value in start.params], ["", "initial"],
                           show_header=False)
