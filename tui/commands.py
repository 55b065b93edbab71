"""Command palette entries: pick the parameter and element shown, switch views and toggles."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from optimstep.core.rules_teaching import VARIANTS

from .selection import Selection, index_text, parse_element

if TYPE_CHECKING:
    from .teaching import TeachingMixin

VIEWS = {"panels": "Show the record panels", "formula": "Show the formula view",
         "summary": "Show the tensor summary view", "plots": "Show the plots view"}


class SelectionCommands(Provider):
    """Parameters, their worst elements, typed `name[i, j]` elements, views and toggles."""

    def _commands(self) -> list[tuple[str, object, str]]:
        app: TeachingMixin = self.app  # type: ignore[assignment]
        commands: list[tuple[str, object, str]] = []
        for name, shape in app.param_shapes():
            commands.append((f"Select parameter {name}", partial(app.select, Selection(name, 0)),
                             f"shape {shape}"))
        for flat in app.worst_indices():
            shape = dict(app.param_shapes())[app.selection.param]
            element = f"{app.selection.param}{index_text(shape, flat)}"
            commands.append((f"Select element {element} (large error)",
                             partial(app.select, Selection(app.selection.param, flat)),
                             "one of the worst elements of the parameter check"))
        for view, text in VIEWS.items():
            commands.append((text, partial(app.action_view, view), f"view: {view}"))
        for variant, label in VARIANTS.items():
            commands.append((f"Toggle teaching variant: {label}",
                             partial(app.flip_variant, variant), "changes the reference only"))
        return commands

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands():
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        app: TeachingMixin = self.app  # type: ignore[assignment]
        typed = parse_element(query, app.param_shapes())
        if typed is not None:
            yield Hit(1.0, f"Select element {query.strip()}", partial(app.select, typed),
                      help="the element typed")
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, help=help_text)
