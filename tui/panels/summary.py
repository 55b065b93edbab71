"""The summary panel: a large parameter described by shape, norm and range, never printed."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from optimstep.core import ParamRecord
from optimstep.core.summary import summarise, worst_elements

from .format import format_error, format_number
from .lines import LineRefreshWidget

STATE_SYMBOLS = {"exp_avg": "m", "exp_avg_sq": "v", "max_exp_avg_sq": "v_max",
                 "momentum_buffer": "buf", "square_avg": "v", "sum": "G"}
"""Short names of torch's state entries, where the rules have one."""
WORST_COUNT = 5
"""Elements listed by their error against the reference."""


def state_label(key: str) -> str:
    """Return a state entry's label, e.g. `m (exp_avg)`, or the key itself."""
    symbol = STATE_SYMBOLS.get(key)
    return f"{symbol} ({key})" if symbol else key


class SummaryPanel(LineRefreshWidget):
    """Shape, dtype, norm, min and max of the selected parameter's tensors, and worst elements."""

    def show(self, title: str, param: ParamRecord | None, initial: torch.Tensor | None,
             index_text: Callable[[int], str] | None = None) -> None:
        """Summarise `param` (a record), or the `initial` value before step 1.

        `index_text` writes a flat index as the panel shows it, e.g. `[412, 77]`.
        """
        if self.border_title != title:
            self.border_title = title
        if param is None:
            rows = [] if initial is None else [("θ initial", initial)]
            self.replace_content(_table(rows))
            return
        self.replace_content(Group(_table(_tensors(param)), _worst(param, index_text)))


def _tensors(param: ParamRecord) -> list[tuple[str, torch.Tensor]]:
    rows = [("θ after", param.after)]
    if param.grad is not None:
        rows += [("g", param.grad), ("Δθ torch", param.actual_update)]
    rows += [(state_label(key), value) for key, value in param.state.items()
             if value.shape == param.before.shape]
    return rows


def _table(rows: Sequence[tuple[str, torch.Tensor]]) -> RenderableType:
    if not rows:
        return Text("press n to step", style="dim")
    first = rows[0][1]
    table = Table(box=None, header_style="bold", padding=(0, 2, 0, 0), pad_edge=False,
                  title=Text(_description(first), no_wrap=True, overflow="ellipsis"),
                  title_justify="left")
    table.add_column("", no_wrap=True, overflow="ellipsis")
    for header in ("norm", "min", "max"):
        table.add_column(header, justify="right", no_wrap=True)
    for label, tensor in rows:
        summary = summarise(tensor)
        extra = f" ({summary.nonfinite} non-finite)" if summary.nonfinite else ""
        table.add_row(label, format_number(summary.norm), format_number(summary.min),
                      format_number(summary.max) + extra)
    return table


def _description(tensor: torch.Tensor) -> str:
    summary = summarise(tensor)
    return (f"shape {tuple(summary.shape)}  {summary.dtype}  "
            f"{summary.numel:,} element{'s' if summary.numel != 1 else ''}")


def _worst(param: ParamRecord, index_text: Callable[[int], str] | None) -> RenderableType:
    worst = worst_elements(param, WORST_COUNT)
    if not worst:
        if param.skipped or param.computed_update is None:
            return Text("")
        return Text("no element differs from the reference: after = before + computed Δθ",
                    style="dim", no_wrap=True, overflow="ellipsis")
    table = Table(box=None, header_style="bold", padding=(0, 2, 0, 0), pad_edge=False)
    for header in ("index", "abs error", "torch", "reference"):
        table.add_column(header, justify="left" if header == "index" else "right",
                         no_wrap=True, overflow="ellipsis")
    for element in worst:
        index = index_text(element.flat_index) if index_text else str(list(element.index))
        table.add_row(index or "—", format_error(element.error), format_number(element.actual),
                      format_number(element.expected))
    title = Text("worst elements by |after − (before + computed Δθ)|", style="bold",
                 no_wrap=True, overflow="ellipsis")
    return Group(title, table)
