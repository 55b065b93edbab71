"""The formula panel: the update rule for one element, each equation with its numbers."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.text import Text

from optimstep.core.explain import Line, number

from .lines import LineRefreshWidget

ASCII_MATH = {
    "−": "-", "×": "*", "·": "*", "²": "^2", "√": "sqrt ", "∇": "grad ", "…": "...",
    "β": "beta", "γ": "lr", "ε": "eps", "λ": "wd", "θ": "theta", "Δ": "d", "α": "alpha",
    "m̂": "m_hat", "v̂": "v_hat", "→": "->", "—": "-", "±": "+-",
}
"""Plain-ASCII spellings of the symbols the formulas use, for terminals without them."""
SYMBOL_WIDTH = 5
"""Widest symbol whose equals sign lines up with the others."""


def ascii_math(text: str) -> str:
    """Spell `text`'s mathematical symbols in ASCII, e.g. `√v̂ + ε` as `sqrtv_hat + eps`."""
    # Hatted letters first: their combining mark must go with its letter.
    for symbol in sorted(ASCII_MATH, key=len, reverse=True):
        text = text.replace(symbol, ASCII_MATH[symbol])
    return text.encode("ascii", "replace").decode("ascii")


class FormulaLines:
    """Equations as `symbol = formula = numbers = value`, shortened to fit the width.

    A line that is too wide drops its formula, then its numbers, then its note; what is
    still too wide ends in an ellipsis. The symbols
    are padded to one width so that the equals signs line up.
    """

    def __init__(self, lines: Sequence[Line], ascii_only: bool = False) -> None:
        self.lines = lines
        self.ascii_only = ascii_only

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        symbols = [self._plain(line.symbol) for line in self.lines]
        # Short symbols line up their equals signs; longer ones (`torch Δθ`) stand out.
        pad = max((cell_len(s) for s in symbols if cell_len(s) <= SYMBOL_WIDTH), default=0)
        for line, symbol in zip(self.lines, symbols):
            yield self._fitted(line, symbol + " " * max(pad - cell_len(symbol), 0), width)

    def _fitted(self, line: Line, symbol: str, width: int) -> Text:
        candidates = self._candidates(line, symbol)
        for text in candidates:
            if text.cell_len <= width:
                return text
        text = candidates[-1]
        text.truncate(width, overflow="ellipsis")
        return text

    def _candidates(self, line: Line, symbol: str) -> list[Text]:
        formula, numbers = self._plain(line.formula), self._plain(line.substitution)
        note, value = self._plain(line.note), self._plain(number(line.value))
        if numbers == value:
            numbers = ""
        forms: list[list[tuple[str, str]]] = [[(formula, "dim"), (numbers, "")]]
        if numbers:
            forms.append([(numbers, "")])
        forms.append([])
        # A note (how far torch is from the reference) outranks the formula and the numbers.
        order = [(parts, True) for parts in forms] if note else []
        order += [(parts, False) for parts in forms]
        texts = []
        for parts, with_note in order:
            text = Text(symbol, style="bold")
            for part, style in parts:
                if part:
                    text.append(" = ")
                    text.append(part, style=style)
            text.append(" = ")
            text.append(value, style="bold")
            if with_note:
                text.append(f"  {note}", style="italic")
            texts.append(text)
        return texts

    def _plain(self, text: str) -> str:
        return ascii_math(text) if self.ascii_only else text


class FormulaPanel(LineRefreshWidget):
    """The equations of the selected element's update, or a hint before step 1."""

    def show(self, title: str, content: Sequence[Line] | str, ascii_only: bool = False) -> None:
        """Show `content` (equations, or a one-line message) under `title`."""
        title = ascii_math(title) if ascii_only else title
        if self.border_title != title:
            self.border_title = title
        if isinstance(content, str):
            self.replace_content(Text(content, style="dim", no_wrap=True, overflow="ellipsis"))
        else:
            self.replace_content(FormulaLines(content, ascii_only))
