"""Everything a person sees: the Textual app, the Rich report of `check`, and the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optimstep.core import Stepper


def run(stepper: Stepper) -> int:
    """Open the app on a Stepper built from one's own model, optimizer, loss and batches."""
    from .app import OptimstepApp

    return OptimstepApp(stepper).run() or 0
