"""The panel base class and the start state panels show before step 1."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from rich.console import RenderableType
from rich.text import Text

from optimstep.core import StepRecord

from .lines import LineRefreshWidget

HINT = "press n to step"
"""Text of an empty panel before step 1."""


@dataclass(frozen=True)
class Start:
    """The state before step 1, which the panels show until the first record arrives."""

    params: tuple[tuple[str, torch.Tensor], ...] = ()
    """(name, initial value) of every parameter, in param-group order."""
    optimizer: str = ""
    """Display name of the optimizer, e.g. `Adam`."""
    hyperparameters: tuple[Mapping[str, Any], ...] = field(default=())
    """Hyper-parameters of each param group."""


class RecordPanel(LineRefreshWidget):
    """A titled panel that renders one StepRecord, or the start state before step 1.

    Subclasses build their content from the record alone and never touch the model.
    `show` replaces the content in place and repaints only the lines that changed.
    """

    TITLE: ClassVar[str] = ""

    def __init__(self, title: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.border_title = title or self.TITLE

    def set_title(self, title: str) -> None:
        """Change the border title; setting it repaints the whole panel, so only on a change."""
        if self.border_title != title:
            self.border_title = title

    def show(self, record: StepRecord | None, start: Start) -> None:
        """Render `record`, or `start` when no step has been taken."""
        if record is None:
            self.replace_content(self.content_at_start(start))
        else:
            self.replace_content(self.content_for(record))

    def content_for(self, record: StepRecord) -> RenderableType:
        """Return the content that shows `record`."""
        raise NotImplementedError

    def content_at_start(self, start: Start) -> RenderableType:
        """Return the content shown before step 1."""
        return hint()


def hint() -> Text:
    """Return the dim "press n to step" line of an empty panel."""
    return Text(HINT, style="dim")
