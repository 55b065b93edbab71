"""What the app adds for teaching and debugging: views, the selected element, teaching
toggles, the presentation layout, ASCII borders and the minimum terminal size.

`TeachingMixin` is mixed into the app class. The app calls `_init_teaching` from its
`__init__`, `_mount_teaching` from `on_mount` and `_show_teaching` whenever it shows a record.
Everything else happens here, so that the app module stays about stepping.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Grid
from textual.layout import Layout
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from optimstep.core import StepRecord
from optimstep.core.explain import explain
from optimstep.core.rules_teaching import VARIANTS, set_rule, supports_variant, teaching_rule
from optimstep.core.summary import worst_elements
from optimstep.core.surface import LossSurface, Surface, bounds, scalar_pair

from .layout import FittingLayout
from .panels.formula import FormulaPanel
from .panels.header import StatusHeader
from .panels.log import AssertionLog
from .panels.plots import PathPlot, Series, SeriesPlot
from .panels.presentation import PresentationBar
from .panels.summary import STATE_SYMBOLS, SummaryPanel
from .selection import (Selection, element_count, fitted, index_text, next_element, next_param,
                        real_shape)

MIN_WIDTH, MIN_HEIGHT = 60, 16
"""Smallest terminal the app draws its views in; below it shows a message instead."""
PANELS_MIN_HEIGHT = 3
"""Fewest rows the record panels shrink to, so that the assertion log keeps its own."""
SCROLLING_VIEWS = ("panels", "formula-box", "summary-box")
"""Ids of the views that shrink and scroll when the screen is too short for them and the log."""
NAME_WIDTH = 32
"""Widest parameter name in a title; longer names end in an ellipsis."""
VIEWS = ("panels", "formula", "summary", "plots")
"""Views the space between the header and the log can show."""

TEACHING_BINDINGS = [
    Binding("x", "view('formula')", "Formula", id="view-formula"),
    Binding("v", "view('plots')", "Plots", id="view-plots", show=False),
    Binding("s", "view('summary')", "Tensor summary", id="view-summary", show=False),
    Binding("t", "toggles", "Toggles", id="toggles", show=False),
    Binding("left_square_bracket", "select_param(-1)", "Previous parameter",
            id="param-previous", show=False, key_display="["),
    Binding("right_square_bracket", "select_param(1)", "Next parameter", id="param-next",
            show=False, key_display="]"),
    Binding("comma", "select_element(-1)", "Previous element", id="element-previous",
            show=False, key_display=","),
    Binding("full_stop", "select_element(1)", "Next element", id="element-next", show=False,
            key_display="."),
    Binding("w", "select_worst", "Worst element", id="element-worst",
            show=False),
    Binding("P", "presentation", "Presentation layout", id="presentation",
            show=False, key_display="P"),
    Binding("ctrl+p", "command_palette", "Commands and themes",
            id="palette", show=False),
]
"""Keys of the views, the selection, the teaching toggles and the presentation layout."""

HELP_NOTES = (
    "x, v and s switch to the formula, plots and tensor summary views; the same key "
    "returns to the panels. [ ] pick the parameter and , . the element they show.\n"
    "The teaching toggles (t) change the reference, never torch, so the log shows by how "
    "much each mistake fails. With betas (0.9, 0.99) the two bias corrections cancel at "
    "step 1, since (1 − 0.9)/√(1 − 0.99) = 1, so \"no bias correction\" fails from step 2 on.\n"
    f"The terminal must be at least {MIN_WIDTH}x{MIN_HEIGHT}; --ascii (automatic with "
    "TERM=linux) draws borders and plots in ASCII."
)


def wants_ascii(requested: bool) -> bool:
    """Return whether to draw in ASCII: on request, or on the Linux console (TERM=linux)."""
    return requested or os.environ.get("TERM") == "linux"


def shorten(name: str, width: int = NAME_WIDTH) -> str:
    """Return `name` cut to `width` characters, ending in an ellipsis when cut."""
    return name if len(name) <= width else name[:width - 1] + "…"


@dataclass
class SurfaceComputed(Message):
    """The loss over a grid of the two parameters was evaluated, for the path plot."""

    surface: Surface


@dataclass
class RuleSwitched(Message):
    """The reference rule changed at a step, e.g. when a teaching toggle was switched."""

    variants: frozenset[str]
    """The teaching variants now on."""
    step: int
    """The first step checked against the new rule."""


class MainScreen(Screen):
    """The app's screen, where the record panels shrink and scroll to leave the assertion log
    its minimum height, and which drops a scrollbar that a resize left behind without need."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fitting_layout = FittingLayout(SCROLLING_VIEWS, PANELS_MIN_HEIGHT)

    @property
    def layout(self) -> Layout:
        # Textual 8 names its layouts in CSS only, so the screen returns its own here.
        return self._fitting_layout

    def on_resize(self) -> None:
        # Textual 8 lays a screen out at its new size before it switches the width classes
        # (-single, -double). Growing from under 64 columns thus lays out one tall column,
        # which turns the scrollbar on, and the two columns, a cell narrower beside it, then
        # overflow too and keep it. Dropping it and laying out again keeps it only if needed.
        if self.show_vertical_scrollbar:
            self.show_vertical_scrollbar = False
            self.refresh(layout=True)
            self.call_after_refresh(self._show_scrollbar_if_needed)

    def _show_scrollbar_if_needed(self) -> None:
        if self.virtual_size.height > self.scrollable_content_region.height:
            self.show_vertical_scrollbar = True


class TeachingMixin:
    """Views, selection, teaching toggles, presentation and minimum size for the app."""

    source: Any

    def _init_teaching(self, ascii_only: bool) -> None:
        self.ascii_only = wants_ascii(ascii_only)
        self.selection = Selection()
        self.view = "panels"
        self.variants: frozenset[str] = frozenset()
        self._base_rule = self.source.rule
        self._shown: StepRecord | None = None
        self._surface: Surface | None = None
        self._surface_pending = False
        self._loss_surface = self._make_loss_surface()

    def _make_loss_surface(self) -> LossSurface | None:
        model = getattr(self.source, "model", None)
        if not isinstance(model, torch.nn.Module) or scalar_pair(model) is None:
            return None
        return LossSurface(model, self.source.loss_fn, self.source.batches)

    def compose_presentation(self) -> ComposeResult:
        """Yield the presentation bar, hidden until `P`."""
        yield PresentationBar(id="presentation")

    def compose_views(self) -> ComposeResult:
        """Yield the formula, summary and plots views, hidden until chosen."""
        # The boxes scroll the formula and the summary when the screen is too short for them.
        with Container(id="formula-box", classes="view"):
            yield FormulaPanel(id="formula", classes="view")
        with Container(id="summary-box", classes="view"):
            yield SummaryPanel(id="summary", classes="view")
        with Grid(id="plots", classes="view"):
            yield SeriesPlot(id="plot-loss")
            yield SeriesPlot(id="plot-value")
            yield SeriesPlot(id="plot-state")
            yield PathPlot(id="plot-path")
            yield SeriesPlot(id="plot-gradient")

    def compose_too_small(self) -> ComposeResult:
        """Yield the message shown instead of everything when the terminal is too small."""
        yield Static("", id="too-small")

    def _mount_teaching(self) -> None:
        self.set_class(self.ascii_only, "-ascii")
        self.query_one("#plot-path").display = self._loss_surface is not None
        self.query_one("#plot-gradient").display = self._loss_surface is None
        self._check_size(self.size)

    # Showing a record.

    def _show_teaching(self, record: StepRecord | None) -> None:
        self._shown = record
        self.selection = fitted(self.selection, self.param_shapes())
        if self.has_class("-presentation"):
            self.query_one(PresentationBar).show(record)
        if self.view == "formula":
            self._show_formula(record)
        elif self.view == "summary":
            self._show_summary(record)
        elif self.view == "plots":
            self._show_plots(record)
        if self.has_class("-too-small"):
            self._check_size(self.size)

    def param_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """Return (name, real-view shape) of each parameter, from the record shown or the start."""
        if self._shown is not None:
            return [(p.name, real_shape(p.before)) for p in self._shown.params]
        return [(name, real_shape(value)) for name, value in self.start.params]

    def _records_until(self, record: StepRecord | None) -> list[StepRecord]:
        if record is None:
            return []
        records = list(self.source.records)
        for position in range(len(records) - 1, -1, -1):
            if records[position] is record:
                return records[:position + 1]
        return [r for r in records if r.step < record.step] + [record]

    def _selection_title(self, prefix: str) -> str:
        shape = dict(self.param_shapes()).get(self.selection.param, ())
        count = element_count(shape)
        name = shorten(self.selection.param) + index_text(shape, self.selection.index)
        where = f" (element {self.selection.index + 1:,} of {count:,})" if count > 1 else ""
        return f"{prefix} {name}{where}"

    def _show_formula(self, record: StepRecord | None) -> None:
        panel = self.query_one(FormulaPanel)
        if record is None:
            panel.show(self._selection_title("Update of"),
                       "press n to step: the formula needs a step", self.ascii_only)
            return
        records = self._records_until(record)
        previous = records[-2] if len(records) > 1 else None
        lines = explain(getattr(self.source.rule, "name", ""), record, self.selection.param,
                        self.selection.index, previous)
        panel.show(self._selection_title(f"Step {record.step}: update of"), lines,
                   self.ascii_only)

    def _show_summary(self, record: StepRecord | None) -> None:
        # NOTE: summarised on the UI thread. A (1000, 1000) parameter took about 0.3 s on a
        # shared 2-core machine (five norms and ranges, then a top-k of the check error).
        name = self.selection.param
        shape = dict(self.param_shapes()).get(name, ())
        title = f"{shorten(name)} {'after step ' + str(record.step) if record else 'initial'}"
        initial = dict(self.start.params).get(name)
        param = record.param(name) if record is not None and name else None
        self.query_one(SummaryPanel).show(title, param, initial,
                                          lambda flat: index_text(shape, flat))

    # Plots.

    def _show_plots(self, record: StepRecord | None) -> None:
        records = self._records_until(record)
        steps = [r.step for r in records]
        plain = self.ascii_only or self.no_color
        self.query_one("#plot-loss", SeriesPlot).show(
            "loss over steps", [Series("loss", steps, [r.loss for r in records])], plain,
            log_y=True)
        name, index = self.selection.param, self.selection.index
        initial = dict(self.start.params).get(name)
        start = [(0, _element(initial, index))] if initial is not None else []
        after = [(r.step, _element(r.param(name).after, index)) for r in records]
        self.query_one("#plot-value", SeriesPlot).show(
            f"θ of {self._selection_title('').strip()}",
            [Series("θ", [s for s, _ in start + after], [v for _, v in start + after])], plain)
        self.query_one("#plot-state", SeriesPlot).show("optimizer state (right axis: 2nd)",
                                                       _state_series(records, name, index), plain)
        if self._loss_surface is not None:
            self._show_path(records, plain)
        else:
            grads = [(r.step, r.param(name).grad) for r in records]
            self.query_one("#plot-gradient", SeriesPlot).show("g", [Series(
                "g", [s for s, g in grads if g is not None],
                [_element(g, index) for _, g in grads if g is not None])], plain)

    def _show_path(self, records: list[StepRecord], plain: bool) -> None:
        names = self._loss_surface.names
        initial = dict(self.start.params)
        path = []
        if names[0] in initial and names[1] in initial:
            path.append((_element(initial[names[0]], 0), _element(initial[names[1]], 0)))
        path += [(_element(r.param(names[0]).after, 0), _element(r.param(names[1]).after, 0))
                 for r in records]
        if path and (self._surface is None or not self._surface.contains(*path[-1])):
            self._request_surface(path)
        self.query_one(PathPlot).show(names, path, self._surface, plain)

    def _request_surface(self, path: list[tuple[float, float]]) -> None:
        if self._surface_pending:
            return
        self._surface_pending = True
        self._request(self._compute_surface, bounds(path))

    def _compute_surface(self, ranges: tuple[tuple[float, float], tuple[float, float]]) -> None:
        # Runs in the step worker's turn, so it never overlaps a step.
        try:
            surface = self._loss_surface.evaluate(*ranges)
        finally:
            self._surface_pending = False
        self.post_message(SurfaceComputed(surface))

    def on_surface_computed(self, message: SurfaceComputed) -> None:
        self._surface = message.surface
        if self.view == "plots":
            self._show_plots(self._shown)

    # Actions.

    def action_view(self, view: str) -> None:
        """Show `view` in place of the record panels; the same key again returns to them."""
        if self.still_building():
            return
        self.view = "panels" if self.view == view else view
        for name in VIEWS:
            self.set_class(self.view == name, f"-view-{name}")
        self._show_teaching(self._shown)

    def select(self, selection: Selection) -> None:
        """Show `selection` in the formula, summary and plots."""
        self.selection = fitted(selection, self.param_shapes())
        self._show_teaching(self._shown)

    def action_select_param(self, offset: int) -> None:
        """Select the parameter `offset` places on."""
        if self.still_building():
            return
        self.select(next_param(self.selection, self.param_shapes(), offset))

    def action_select_element(self, offset: int) -> None:
        """Select the element `offset` places on within the parameter."""
        if self.still_building():
            return
        self.select(next_element(self.selection, self.param_shapes(), offset))

    def action_select_worst(self) -> None:
        """Select the element of the parameter with the largest error of the param check."""
        if self.still_building():
            return
        worst = self.worst_indices(1)
        if worst:
            self.select(Selection(self.selection.param, worst[0]))
        elif self._shown is None:
            self.notify("no step yet: the errors come with a step's record")
        else:
            self.notify(f"no element of {self.selection.param} differs from the reference "
                        f"at step {self._shown.step}")

    def worst_indices(self, count: int = 5) -> list[int]:
        """Return flat indices of the selected parameter's worst elements, worst first."""
        if self._shown is None or not self.selection.param:
            return []
        return [w.flat_index for w in worst_elements(self._shown.param(self.selection.param),
                                                     count)]

    def action_presentation(self) -> None:
        """Switch the presentation layout, with the step and loss in large digits, on or off."""
        self.toggle_class("-presentation")
        self._show_teaching(self._shown)

    def action_toggles(self) -> None:
        """Open the teaching toggles."""
        if self.still_building():
            return
        from .toggles import TogglesScreen

        available = self._available_variants()
        if available is None:
            self.notify("teaching toggles need a live run of torch's Adam or AdamW (or a "
                        "subclass), not a recording or another optimizer class",
                        severity="warning")
            return
        self.push_screen(TogglesScreen(self.variants, available), self._apply_variants)

    def _available_variants(self) -> dict[str, str | None] | None:
        optimizer = getattr(self.source, "optimizer", None)
        if optimizer is None or not supports_variant(self._base_rule, {}, "no-bias-correction"):
            return None
        # A teaching rule describes torch's class: one's own optimizer checked against the
        # Adam rule (e.g. a subclass of torch.optim.Optimizer) cannot switch to it.
        if not isinstance(optimizer, self._base_rule.optimizer_class):
            return None
        group = optimizer.param_groups[0]
        return {variant: None if supports_variant(self._base_rule, group, variant)
                else "AdamW only" for variant in VARIANTS}

    def flip_variant(self, variant: str) -> None:
        """Switch one teaching variant on or off, if the run allows it."""
        if self.still_building():
            return
        available = self._available_variants()
        if available is None or available.get(variant) is not None:
            self.notify(f"the teaching variant {VARIANTS[variant]!r} does not apply here",
                        severity="warning")
            return
        self._apply_variants(self.variants ^ {variant})

    def _apply_variants(self, variants: frozenset[str] | None) -> None:
        if variants is None or variants == self.variants:
            return
        self.variants = frozenset(variants)
        rule = teaching_rule(self._base_rule, self.variants)
        self._request(self._switch_rule, rule, self.variants)

    def _switch_rule(self, rule, variants: frozenset[str]) -> None:
        set_rule(self.source, rule)
        self.post_message(RuleSwitched(variants, self.source.step_count + 1))

    def on_rule_switched(self, message: RuleSwitched) -> None:
        labels = ", ".join(label for key, label in VARIANTS.items() if key in message.variants)
        self.query_one(StatusHeader).teaching = labels
        note = f"teaching variants from step {message.step}: {labels or 'none'}"
        self.query_one(AssertionLog).show_note(message.step, "NOTE", note)

    # The terminal's size.

    def get_default_screen(self) -> Screen:
        return MainScreen(id="_default")

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size)

    def _check_size(self, size) -> None:
        small = size.width < MIN_WIDTH or size.height < MIN_HEIGHT
        self.set_class(small, "-too-small")
        if small:
            step = self._shown.step if self._shown else 0
            self.query_one("#too-small", Static).update(
                f"terminal too small (need at least {MIN_WIDTH}x{MIN_HEIGHT}, have "
                f"{size.width}x{size.height}); step {step}")


def _element(tensor: torch.Tensor, index: int) -> float:
    flat = (torch.view_as_real(tensor) if tensor.is_complex() else tensor).reshape(-1)
    return float(flat[0] if flat.numel() == 1 else flat[index])


def _state_series(records: list[StepRecord], name: str, index: int) -> list[Series]:
    if not records:
        return []
    shape = records[-1].param(name).before.shape
    keys = [key for key, value in records[-1].param(name).state.items() if value.shape == shape]
    series = []
    for position, key in enumerate(keys):
        points = [(r.step, _element(r.param(name).state[key], index)) for r in records
                  if key in r.param(name).state]
        series.append(Series(STATE_SYMBOLS.get(key, key), [s for s, _ in points],
                             [v for _, v in points], right=position > 0))
    return series
