"""The optimstep app: a header, a panel per part of a step, and the assertion log."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.logging import TextualHandler
from textual.widgets import Footer
from textual.worker import get_current_worker

from optimstep.core import NoMoreSteps, ScenarioError, StepRecord, UserCodeError
from optimstep.core.stepper import group_hyperparameters

from .commands import SelectionCommands
from .export_actions import ExportActions
from .help import HelpScreen
from .messages import (BuildFailed, PositionChanged, SourceBuilt, SourceExhausted, SourceReset,
                       StepFailed, StepsCompleted)
from .panels import (OTHER_TITLE, AssertionLog, GradientsPanel, ParametersPanel, RecordPanel,
                     Start, StatusHeader, TermsPanel, UpdatesPanel, describe_optimizer)
from .teaching import HELP_NOTES, SCROLLING_VIEWS, TEACHING_BINDINGS, TeachingMixin
from .position import read_position
from .rewind import HistoryActions

logger = logging.getLogger(__name__)

FAST_FORWARD_STEPS = 10
"""Steps taken by `f`."""

USAGE_ERROR = 2
"""Exit status when building the source raised ScenarioError, as for other invalid input."""


class Source(Protocol):
    """What the app reads: a live Stepper, or a recorded trace used in its place.

    Optional members enable more. With `back` and `goto` the app goes back and jumps, and
    with `optimizer` and `set_hyperparameters` it edits hyper-parameters. `latest_step` or
    `total_steps`, `history_bytes` and `history_budget_bytes` add facts to the header.
    """

    name: str
    rule: Any
    records: list[StepRecord]

    @property
    def step_count(self) -> int: ...
    @property
    def reference(self) -> str: ...
    def step(self) -> StepRecord: ...
    def reset(self) -> None: ...


class OptimstepApp(TeachingMixin, HistoryActions, ExportActions, App[int]):
    """Steps a source one key press at a time and shows each record in panels."""

    CSS_PATH = "app.tcss"
    TITLE = "optimstep"
    COMMANDS = App.COMMANDS | {SelectionCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-single"), (64, "-double")]
    BINDINGS = [
        Binding("n,space,right", "step(1)", "Step", id="step"),
        Binding("f", f"step({FAST_FORWARD_STEPS})", "Ten steps", id="step-ten"),
        Binding("r", "reset", "Reset", id="reset"),
        Binding("question_mark", "help", "Help", id="help", key_display="?"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("pageup", "scroll_log(-1)", "Scroll the log up", id="log-up", show=False),
        Binding("pagedown", "scroll_log(1)", "Scroll the log down", id="log-down", show=False),
        Binding("up,k", "scroll_panels(-1)", "Scroll the panels (or view) up", id="panels-up",
                show=False),
        Binding("down,j", "scroll_panels(1)", "Scroll the panels (or view) down",
                id="panels-down", show=False),
        # Each action has a plain ASCII key, because terminals and tmux mangle some others.
        Binding("b,left", "back(1)", "Back", id="back"),
        Binding("g", "goto", "Go to", id="goto"),
        Binding("0,home", "first_step", "Go to step 0", id="first-step", show=False),
        Binding("dollar_sign,end", "latest_step", "Go to the latest step", id="latest-step",
                show=False),
        Binding("p", "autoplay", "Autoplay", id="autoplay"),
        Binding("plus,equals_sign", "speed(1)", "Faster autoplay", id="faster", show=False),
        Binding("minus", "speed(-1)", "Slower autoplay", id="slower", show=False),
        Binding("e", "edit", "Edit hyper-parameters", id="edit", show=False),
        Binding("o", "export", "Export the history as a trace", id="export",
                show=False),
        Binding("S", "screenshot", "Save a screenshot (SVG)", id="screenshot", show=False,
                key_display="S"),
        Binding("c", "copy", "Copy the step's values", id="copy", show=False),
        *TEACHING_BINDINGS,
    ]

    def __init__(self, source: Source, *, ascii_only: bool = False,
                 build: Callable[[], Source] | None = None) -> None:
        """Open the app on `source`.

        With `build`, `source` is a placeholder (see `deferred`) until `build()` has returned
        the real source in a thread, which starts once the first frame is drawn.
        """
        super().__init__()
        self.source = source
        self.start = read_start(source)
        # Each request takes a ticket and waits for its turn, so steps and resets run one at
        # a time and in the order of the key presses. A plain lock would not keep that order.
        self._tickets = itertools.count()
        self._serving = 0
        self._turn = threading.Condition()
        self._build = build
        self._build_ticket: int | None = None
        self.startup_warnings: list[str] = []
        """Warnings to show as notifications once the app is on screen, e.g. from reading
        the source, which stderr would not show under the app."""
        self.build_status = ""
        """Text shown while the source is built, e.g. `building Adam…`; empty once built."""
        self.build_error: Exception | None = None
        """The exception building the source raised, which made the app exit; else None."""
        if build is not None:
            # The build takes the first turn, so requests made meanwhile wait for the source.
            self._build_ticket = next(self._tickets)
            self.build_status = f"building {self.start.optimizer or source.name}…"
        self._log_handler = TextualHandler()
        self._init_teaching(ascii_only)

    @classmethod
    def deferred(cls, name: str, rule: Any, build: Callable[[], Source], *,
                 ascii_only: bool = False) -> OptimstepApp:
        """Return an app that draws at once and builds its source (`build()`) afterwards.

        `name` and `rule` are the source's, known before the build, so the header and the
        rule's panels show from the first frame. The CLI opens the app this way because
        constructing the first torch optimizer imports torch._dynamo (see
        `core.builder.check_buildable`).
        """
        return cls(PendingSource(name, rule), ascii_only=ascii_only, build=build)

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        yield from self.compose_presentation()
        with Container(id="panels"):
            yield ParametersPanel(id="parameters")
            yield GradientsPanel(id="gradients")
            yield from self._terms_panels()
            yield UpdatesPanel(id="updates")
        yield from self.compose_views()
        # The title sits on a container, so scrolling the log does not repaint it.
        with Vertical(id="log-box") as log_box:
            log_box.border_title = "Assertion log"
            yield AssertionLog(id="log")
        yield Footer(show_command_palette=False, compact=True)
        yield from self.compose_too_small()

    def _terms_panels(self) -> ComposeResult:
        """Yield a TermsPanel per panel of the source's rule, then one for the other terms."""
        panels = tuple(getattr(self.source.rule, "panels", ()))
        self._rule_panels = panels
        for title, names in panels:
            yield TermsPanel(title, names)
        claimed = {name for _, names in panels for name in names}
        yield TermsPanel(OTHER_TITLE, None, exclude=claimed, id="other-terms")

    def on_mount(self) -> None:
        logging.getLogger("optimstep").addHandler(self._log_handler)
        for warning in self.startup_warnings:
            self.notify(warning, severity="warning", timeout=15)
        if self._build is None:
            self._show_source()
            return
        self._show_building()
        # A thread that imports holds the GIL for long stretches, so it starts only once
        # the first frame is out.
        self.call_after_refresh(self._build_source)

    def _show_source(self) -> None:
        self._show_header()
        # No request runs yet, so the source can be read from this thread.
        self._show_position(read_position(self.source))
        records = list(self.source.records)
        self._show(records[-1] if records else None)
        log = self.query_one(AssertionLog)
        log.show_start()
        log.show_records(records)
        self._mount_teaching()

    def _show_header(self) -> None:
        header = self.query_one(StatusHeader)
        header.scenario = self.source.name
        header.reference = self.source.reference

    def on_unmount(self) -> None:
        logging.getLogger("optimstep").removeHandler(self._log_handler)
        # Requests still waiting for the build's turn then end without running, because the
        # source was never built.
        self._end_build_turn()

    # Building the source after the first frame.

    def _show_building(self) -> None:
        self._show_header()
        self.query_one(StatusHeader).optimizer = self.build_status
        text = Text(self.build_status, style="dim", no_wrap=True, overflow="ellipsis")
        for panel in self.query(RecordPanel):
            # The catch-all panel stays hidden until a record names its terms.
            panel.display = not (isinstance(panel, TermsPanel) and panel.names is None)
            panel.replace_content(text)
        self.query_one(AssertionLog).write(Text(
            f"step 0: {self.build_status}; steps requested meanwhile run when it is ready",
            style="dim", no_wrap=True, overflow="ellipsis"))
        self._mount_teaching()

    @work(thread=True, group="build", exit_on_error=False)
    def _build_source(self) -> None:
        try:
            source = self._build()
            start = read_start(source)
        except Exception as error:  # any error of the build is the command's to report
            logger.warning("building the source failed: %s: %s", type(error).__name__, error,
                           exc_info=True)
            self.post_message(BuildFailed(error))
            return
        self.post_message(SourceBuilt(source, start))

    async def on_source_built(self, message: SourceBuilt) -> None:
        # The build still has the first turn, so no request reads the source meanwhile.
        self.source = message.source
        self.start = message.start
        self.build_status = ""
        self._base_rule = self.source.rule
        self._loss_surface = self._make_loss_surface()
        if tuple(getattr(self.source.rule, "panels", ())) != self._rule_panels:
            await self.query(TermsPanel).remove()
            await self.query_one("#panels").mount_all(self._terms_panels(), before="#updates")
        self._show_source()
        self._end_build_turn()

    def on_build_failed(self, message: BuildFailed) -> None:
        self.build_error = message.error
        self.exit(build_error_status(message.error))

    def _end_build_turn(self) -> None:
        if self._build_ticket is None:
            return
        self._build_ticket = None
        with self._turn:
            self._serving += 1
            self._turn.notify_all()

    def still_building(self) -> bool:
        """Return whether the source is still being built, telling the user so if it is.

        Actions that read the source at once call this; requests that wait their turn
        (steps, reset, go to, autoplay, export) need not.
        """
        if self.build_status:
            self.notify(f"{self.build_status} (try again once the panels show values)",
                        severity="warning", markup=False)
        return bool(self.build_status)

    def action_step(self, count: int) -> None:
        """Take `count` steps in the worker; the panels update once, at the end."""
        self._request(self._take_steps, count)

    def action_reset(self) -> None:
        """Return the source to its state before step 1."""
        self._request(self._reset)

    def action_help(self) -> None:
        """Open the help screen."""
        self.push_screen(HelpScreen(self.BINDINGS, HELP_NOTES))

    async def action_quit(self) -> None:
        """Quit with exit status 0, after a confirmation when a history would be lost."""
        self.confirm_quit()

    def action_scroll_log(self, pages: int) -> None:
        """Scroll the assertion log by `pages` pages (negative: up)."""
        log = self.query_one(AssertionLog)
        if pages < 0:
            log.scroll_page_up()
        else:
            log.scroll_page_down()

    def action_scroll_panels(self, direction: int) -> None:
        """Scroll the record panels, or the view shown in their place, by half their height
        (`direction` -1: up, 1: down).

        They scroll when the screen is too short for them and the assertion log.
        """
        for view in self.query(", ".join(f"#{name}" for name in SCROLLING_VIEWS)):
            if view.display:
                rows = max(1, view.scrollable_content_region.height // 2)
                view.scroll_relative(y=direction * rows, animate=False)

    @on(StepsCompleted)
    def _show_steps(self, message: StepsCompleted) -> None:
        first = message.records[0]
        if not self.start.params and first.step == 1:
            # A source without initial values (e.g. a trace) takes them from step 1's record,
            # so that a reset shows them.
            self.start = start_from_record(first)
        if message.position is not None:
            self._show_position(message.position)
        self.query_one(AssertionLog).show_records(message.records)
        self._show(message.records[-1])

    @on(StepFailed)
    def _show_failure(self, message: StepFailed) -> None:
        self.query_one(AssertionLog).show_error(message.step, message.kind, message.message)
        self.notify(f"step {message.step} failed: {message.kind}", severity="error")

    @on(SourceExhausted)
    def _show_end(self, message: SourceExhausted) -> None:
        self.notify(f"end of trace after step {message.steps}", severity="warning")

    @on(SourceReset)
    def _show_reset(self) -> None:
        self._show(None)
        self.query_one(AssertionLog).show_start()

    def _show(self, record: StepRecord | None) -> None:
        self.shown_record = record
        header = self.query_one(StatusHeader)
        header.step = record.step if record else 0
        header.loss = record.loss if record else None
        # A live optimizer's hyper-parameters come with each position, edits included.
        if self.position is None or self.position.hyperparameters is None:
            header.optimizer = describe_optimizer(
                record.optimizer if record else self.start.optimizer,
                record.hyperparameters if record else self.start.hyperparameters,
                getattr(self.source.rule, "hyperparameters", None))
        for panel in self.query(RecordPanel):
            panel.show(record, self.start)
        self._show_teaching(record)

    def _request(self, job: Callable[..., None], *args: Any) -> None:
        self.stop_run()
        self._run_in_turn(next(self._tickets), job, args)

    @work(thread=True, group="source")
    def _run_in_turn(self, ticket: int, job: Callable[..., None], args: tuple) -> None:
        with self._turn:
            self._turn.wait_for(lambda: self._serving == ticket)
        try:
            # A request queued behind a build that never finished (the app quit) is dropped.
            if not get_current_worker().is_cancelled and not self.build_status:
                job(*args)
                self.post_message(PositionChanged(read_position(self.source)))
        finally:
            with self._turn:
                self._serving += 1
                self._turn.notify_all()

    def _take_steps(self, count: int) -> None:
        records: list[StepRecord] = []
        worker = get_current_worker()
        try:
            while len(records) < count and not worker.is_cancelled:
                records.append(self.source.step())
        except NoMoreSteps:
            self._post_records(records)
            self.post_message(SourceExhausted(self.source.step_count))
        except Exception as error:  # any error of the user's model or optimizer
            step = self.source.step_count + 1
            # The Stepper wraps the user's exception with the step and phase; show the cause.
            error = error.error if isinstance(error, UserCodeError) else error
            logger.warning("step %d failed: %s: %s", step, type(error).__name__, error,
                           exc_info=True)
            self._post_records(records)
            self.post_message(StepFailed(step, type(error).__name__, str(error)))
        else:
            self._post_records(records)

    def _post_records(self, records: list[StepRecord]) -> None:
        if records:
            self.post_message(StepsCompleted(tuple(records), read_position(self.source)))

    def _reset(self) -> None:
        self.source.reset()
        self.post_message(SourceReset())


class PendingSource:
    """A placeholder for a source while it is built: its name and rule, and no steps yet."""

    records: tuple[StepRecord, ...] = ()
    step_count = 0

    def __init__(self, name: str, rule: Any) -> None:
        self.name = name
        self.rule = rule

    @property
    def reference(self) -> str:
        return getattr(self.rule, "flavour", "torch")

    def step(self) -> StepRecord:
        raise RuntimeError(f"{self.name} is still being built")

    def reset(self) -> None:
        raise RuntimeError(f"{self.name} is still being built")


def build_error_status(error: Exception) -> int:
    """Return the exit status for an error of building the source: 2 for an invalid scenario,
    1 for anything else, such as one's own optimizer or model code raising."""
    return USAGE_ERROR if isinstance(error, ScenarioError) else 1


def describe_build_error(error: Exception) -> str:
    """Return one line on why building the source failed."""
    if isinstance(error, (ScenarioError, UserCodeError)):
        text = str(error)
    else:
        text = f"building the run raised {type(error).__name__}: {error}"
    return " ".join(text.split())


def read_start(source: Source) -> Start:
    """Read the state before step 1: from the first record, or from a Stepper's optimizer."""
    title = getattr(source.rule, "title", "")
    records = list(source.records)
    if records:
        return start_from_record(records[0])

    optimizer = getattr(source, "optimizer", None)
    names = getattr(source, "param_names", None)
    if optimizer is None or names is None:
        return Start(optimizer=title)
    params = tuple((names[g][i], p.detach().clone())
                   for g, group in enumerate(optimizer.param_groups)
                   for i, p in enumerate(group["params"]))
    groups = tuple(group_hyperparameters(group) for group in optimizer.param_groups)
    return Start(params, title, groups)


def start_from_record(record: StepRecord) -> Start:
    """Return the state before `record`'s step, read from the record itself."""
    return Start(tuple((p.name, p.before) for p in record.params), record.optimizer,
                 record.hyperparameters)
