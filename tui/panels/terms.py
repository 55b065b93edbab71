"""Term panels: the reference rule's intermediate values, one panel per group of terms."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rich.console import RenderableType

from optimstep.core import StepRecord, Term

from .base import RecordPanel, Start, hint
from .table import Cell, FittedTable

OTHER_TITLE = "Other terms"


class TermsPanel(RecordPanel):
    """Some of the rule's terms: a row per term with its symbol, value per parameter, formula.

    The panel lists `names` in order, leaving out those no parameter has (e.g. `v_max`
    without AMSGrad). With `names=None` it lists every term not in `exclude`, in the order
    the rule computes them. A panel with no term to list hides itself.
    """

    def __init__(self, title: str, names: Sequence[str] | None,
                 exclude: Collection[str] = (), **kwargs) -> None:
        super().__init__(title, **kwargs)
        self.names = None if names is None else tuple(names)
        self.exclude = frozenset(exclude)

    def content_for(self, record: StepRecord) -> RenderableType:
        names = self._listed(record)
        self.display = bool(names)
        rows: list[list[Cell]] = []
        formulas: list[str] = []
        for name in names:
            terms = [p.term(name) for p in record.params]
            first = next(term for term in terms if term is not None)
            rows.append([first.symbol, *(_value(p.skipped, t) for p, t in zip(record.params, terms))])
            formulas.append(first.formula)
        headers = ["", *(p.name for p in record.params)]
        return FittedTable(rows, headers, formulas, "formula")

    def content_at_start(self, start: Start) -> RenderableType:
        # Which terms exist is known only from a record, so a catch-all panel waits for one.
        self.display = self.names is not None
        return hint()

    def _listed(self, record: StepRecord) -> list[str]:
        present = list(dict.fromkeys(t.name for p in record.params for t in p.terms))
        if self.names is None:
            return [name for name in present if name not in self.exclude]
        return [name for name in self.names if name in present]


def _value(skipped: bool, term: Term | None) -> Cell:
    if skipped:
        return "skipped"
    return "—" if term is None else term.value
