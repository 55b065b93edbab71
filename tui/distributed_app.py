"""The app of a distributed run: it launches the ranks, steps them all, shows any rank's proof."""

from __future__ import annotations

import argparse
import gc
import logging

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.logging import TextualHandler
from textual.reactive import reactive
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from optimstep.core import ScenarioError
from optimstep.core.distributed import STRATEGIES, DistributedRun
from optimstep.core.rules import RULES

from .distributed import build_run, usage_error
from .distributed_driver import RunDriver
from .distributed_failure import FailureScreen
from .distributed_messages import (PhasesRead, RanksClosed, RanksStarted, RanksStepped,
                                   RunStopped, StateConsolidated)
from .distributed_state import CLOSED, CLOSING, READY, STARTING, STOPPED, RunHistory
from .distributed_views import RANK_KEYS, LogEntry, RankTable, write_entries
from .help import HelpScreen
from .panels import (OTHER_TITLE, AssertionLog, GradientsPanel, ParametersPanel, RecordPanel,
                     Start, StatusHeader, TermsPanel, UpdatesPanel, describe_optimizer)

logger = logging.getLogger(__name__)

FAST_FORWARD_STEPS = 10
"""Steps taken by `f`."""
CLOSE_WAIT_SECONDS = 30.0
"""How long `open_app` waits for the driver to close the run once the app has gone."""

RANK_KEYS_GROUP = Binding.Group("Rank")
"""The footer entry of the rank keys, shown as `1-9 [ ] Rank`."""


def _rank_bindings() -> list[Binding]:
    digits = [Binding(str(key), f"select_rank({key - 1})", f"Select rank {key - 1}",
                      id=f"rank-{key}", show=key == 1, key_display="1-9", group=RANK_KEYS_GROUP)
              for key in range(1, RANK_KEYS + 1)]
    return [
        *digits,
        Binding("left_square_bracket", "next_rank(-1)", "Previous rank", id="previous-rank",
                group=RANK_KEYS_GROUP),
        Binding("right_square_bracket", "next_rank(1)", "Next rank", id="next-rank",
                group=RANK_KEYS_GROUP),
        # The screen binds Tab to moving the focus; nothing here takes the focus.
        Binding("tab", "next_rank(1)", "Next rank", id="next-rank-tab", show=False,
                priority=True),
        Binding("shift+tab", "next_rank(-1)", "Previous rank", id="previous-rank-tab",
                show=False, priority=True),
    ]


class DistributedApp(App[int]):
    """Starts a distributed run, steps every rank per key press, and shows one rank at a time.

    The app is the run's launcher and never joins a collective: `start()`, every `step()`
    and `close()` run in a thread worker (RunDriver), and the event loop only handles
    keys and the messages the worker posts.
    """

    CSS_PATH = ["app.tcss", "distributed_app.tcss"]
    TITLE = "optimstep"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-single"), (64, "-double")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (40, "-tall")]
    BINDINGS = [
        Binding("n,space,right", "step(1)", "Step", id="step"),
        Binding("f", f"step({FAST_FORWARD_STEPS})", "Ten steps", id="step-ten"),
        *_rank_bindings(),
        Binding("z", "consolidate", "Consolidate", id="consolidate"),
        Binding("p", "toggle_panels", "Panels", id="panels"),
        Binding("e", "show_error", "Show the error", id="error", show=False),
        Binding("question_mark", "help", "Help", id="help", key_display="?"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+c", "quit", "Quit", id="interrupt", show=False, priority=True),
        Binding("pageup", "scroll(-1)", "Scroll up", id="scroll-up", show=False),
        Binding("pagedown", "scroll(1)", "Scroll down", id="scroll-down", show=False),
    ]

    run_state: reactive[str] = reactive(STARTING, init=False)
    """STARTING, READY, STOPPED, CLOSING or CLOSED."""
    selected: reactive[int] = reactive(0, init=False)
    """The rank whose log and panels are shown."""
    show_panels: reactive[bool] = reactive(False, init=False)
    """Whether the selected rank's panels are shown (in place of its log on a short screen)."""

    def __init__(self, run: DistributedRun) -> None:
        super().__init__()
        self.dist_run = run
        """The run this app launches and steps."""
        self.driver = RunDriver(run, self.post_message)
        self.rule = RULES[run.scenario.scenario.optimizer]
        self.history = RunHistory(run.world_size)
        """What the app has learnt about the run so far."""
        self._log_handler = TextualHandler()

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        with Vertical(id="ranks-box") as ranks_box:
            ranks_box.border_title = self._ranks_title()
            yield RankTable(id="ranks")
            yield Static(id="summary")
            yield Static(id="run-status")
        with Container(id="body"):
            with Vertical(id="panels-box") as panels_box:
                panels_box.border_title = "Panels"
                yield from self._panels()
            with Vertical(id="log-box") as log_box:
                log_box.border_title = "Assertion log"
                yield AssertionLog(id="log")
        yield Footer()

    def _panels(self) -> ComposeResult:
        with Container(id="panels"):
            yield ParametersPanel(id="parameters")
            yield GradientsPanel(id="gradients")
            for title, names in self.rule.panels:
                yield TermsPanel(title, names)
            claimed = {name for _, names in self.rule.panels for name in names}
            yield TermsPanel(OTHER_TITLE, None, exclude=claimed, id="other-terms")
            yield UpdatesPanel(id="updates")

    def on_mount(self) -> None:
        logging.getLogger("optimstep").addHandler(self._log_handler)
        header = self.query_one(StatusHeader)
        header.scenario = self.dist_run.name
        header.reference = self.dist_run.scenario.scenario.reference
        self._show_rank()
        self._show_status()
        self.set_interval(1.0, self._tick)
        self._drive()
        self._watch_phases()

    def on_unmount(self) -> None:
        logging.getLogger("optimstep").removeHandler(self._log_handler)

    @work(thread=True, group="ranks", name="driver")
    def _drive(self) -> None:
        worker = get_current_worker()
        self.driver.serve(lambda: worker.is_cancelled)

    @work(thread=True, group="phases", name="phases")
    def _watch_phases(self) -> None:
        worker = get_current_worker()
        self.driver.watch(lambda: worker.is_cancelled)

    # Actions

    def action_step(self, count: int) -> None:
        """Queue `count` steps on every rank; each rank's log and panels update per step."""
        if self.run_state in (STOPPED, CLOSING, CLOSED):
            self.notify(self._stopped_reason(), severity="warning")
            return
        self.history.target_step += count
        self.driver.request_steps(count)
        self._show_status()

    def action_select_rank(self, rank: int) -> None:
        """Show rank `rank`'s log, panels and record."""
        if rank >= self.dist_run.world_size:
            self.notify(f"no rank {rank}: this run has ranks 0 to {self.dist_run.world_size - 1}",
                        severity="warning")
            return
        self.selected = rank

    def action_next_rank(self, offset: int) -> None:
        """Select the rank `offset` after the selected one, wrapping around."""
        self.selected = (self.selected + offset) % self.dist_run.world_size

    def action_consolidate(self) -> None:
        """Gather ZeRO's sharded state on rank 0 and check it against each owner's state."""
        if self.run_state != READY:
            self.notify(f"cannot consolidate now: {self._status_text()}", severity="warning")
        elif not self.history.steps:
            self.notify("take a step first: ZeRO has no optimizer state before step 1",
                        severity="warning")
        else:
            self.driver.request_consolidation()

    def action_toggle_panels(self) -> None:
        """Show or hide the selected rank's panels."""
        self.show_panels = not self.show_panels

    def action_show_error(self) -> None:
        """Show again why the run stopped."""
        if self.history.error is None:
            self.notify("no rank has failed", severity="information")
        else:
            self.push_screen(FailureScreen(self.history.error))

    def action_help(self) -> None:
        """Open the help screen."""
        self.push_screen(HelpScreen(self._help_bindings()))

    async def action_quit(self) -> None:
        """Stop every rank, then exit with status 0; the app stays responsive meanwhile."""
        if self.driver.finished:
            self.exit(0)
            return
        if self.run_state != CLOSING:
            self.run_state = CLOSING
            self.driver.close()

    def action_scroll(self, pages: int) -> None:
        """Scroll the log by `pages` pages (negative: up), or the panels where they replace it."""
        if self.show_panels and self.screen.has_class("-short"):
            view = self.query_one("#panels-box")
        else:
            view = self.query_one(AssertionLog)
        if pages < 0:
            view.scroll_page_up()
        else:
            view.scroll_page_down()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # `z` is ZeRO's only: the other strategies have no sharded state to gather.
        if action == "consolidate":
            return self.dist_run.strategy == "zero"
        return True

    # Messages from the driver

    @on(RanksStarted)
    def _show_started(self, message: RanksStarted) -> None:
        self.history.pids = message.pids
        self.run_state = READY
        self.notify(f"{len(message.pids)} ranks started in {message.seconds:.1f} s")

    @on(RanksStepped)
    def _show_step(self, message: RanksStepped) -> None:
        self.history.add_step(message.step)
        self.query_one(AssertionLog).show_records([self.history.record(self.selected)])
        self._show_record()
        self._show_table()
        self._show_status()

    @on(StateConsolidated)
    def _show_consolidated(self, message: StateConsolidated) -> None:
        notes = self.history.add_consolidated(message.step, message.checks)
        self._write_note(notes)
        failed = sum(not check.passed for check in message.checks)
        self.notify(f"consolidated state on rank 0: {len(message.checks)} checks, "
                    f"{failed} failed", severity="error" if failed else "information")
        self._show_status()

    @on(RunStopped)
    def _show_stopped(self, message: RunStopped) -> None:
        self._write_note(self.history.add_failure(message.error))
        self.run_state = STOPPED
        self.push_screen(FailureScreen(message.error))

    @on(RanksClosed)
    def _show_closed(self) -> None:
        quitting = self.run_state == CLOSING
        if self.run_state != STOPPED:
            self.run_state = CLOSED
        if quitting:
            self.exit(0)

    @on(PhasesRead)
    def _show_phases(self, message: PhasesRead) -> None:
        self.history.phases = message.phases
        self.history.pids = message.pids
        self._show_table()

    # Views

    def watch_selected(self) -> None:
        self._show_rank()

    def watch_run_state(self) -> None:
        self._show_table()
        self._show_status()

    def watch_show_panels(self, show: bool) -> None:
        self.query_one("#body").set_class(show, "-panels")
        if not show:
            # A hidden log writes its lines at a width of one cell, so lines written while
            # the panels replaced it are written again once it has its width back.
            self.call_after_refresh(self._rewrite_log)

    def _show_rank(self) -> None:
        rank = self.selected
        where = f"rank {rank} of {self.dist_run.world_size}"
        self.query_one("#log-box").border_title = f"Assertion log: {where}"
        self.query_one("#panels-box").border_title = f"Panels: {where}"
        self._rewrite_log()
        self._show_record()
        self._show_table()

    def _rewrite_log(self) -> None:
        log = self.query_one(AssertionLog)
        log.show_start()
        write_entries(log, self.history.entries[self.selected])

    def _show_record(self) -> None:
        record = self.history.record(self.selected)
        steps = self.history.steps
        header = self.query_one(StatusHeader)
        header.step = steps[-1].step if steps else 0
        header.loss = steps[-1].loss if steps else None
        header.optimizer = describe_optimizer(
            record.optimizer if record else self.rule.title,
            record.hyperparameters if record else (), self.rule.hyperparameters)
        start = Start(optimizer=self.rule.title)
        for panel in self.query(RecordPanel):
            panel.show(record, start)

    def _show_table(self) -> None:
        self.query_one(RankTable).show(self.history.rank_rows(self.run_state), self.selected)

    def _show_status(self) -> None:
        self.query_one("#summary", Static).update(self.history.summary())
        self.query_one("#run-status", Static).update(self._status_text())

    def _status_text(self) -> str:
        return self.history.status_text(self.run_state)

    def _tick(self) -> None:
        if self.run_state == STARTING:
            self._show_status()

    def _stopped_reason(self) -> str:
        if self.run_state == STOPPED:
            return "stepping is disabled: the run stopped (e shows why)"
        if self.run_state == CLOSING:
            return "stepping is disabled: the ranks are stopping"
        return "stepping is disabled: the ranks have stopped"

    def _ranks_title(self) -> str:
        strategy = STRATEGIES[self.dist_run.strategy].title
        return f"Ranks: {strategy} on {self.dist_run.world_size} ranks, {self.dist_run.backend}"

    def _write_note(self, notes: dict[int, LogEntry]) -> None:
        if self.selected in notes:
            write_entries(self.query_one(AssertionLog), [notes[self.selected]])

    def _help_bindings(self) -> list[Binding]:
        # One line per action: keys of the same action are merged, and the nine digit
        # keys read as `1-9`, so the help fits an 80x24 terminal.
        merged: dict[str, Binding] = {}
        for binding in self.BINDINGS:
            action = "select_rank" if binding.action.startswith("select_rank") else binding.action
            if not self.check_action(action, ()):
                continue
            if action == "select_rank":
                binding = Binding("1-9", action, "Select rank 0 to 8", id="rank-1-9")
            elif action in merged:
                first = merged[action]
                binding = Binding(f"{first.key},{binding.key}", action, first.description,
                                  id=first.id)
            merged[action] = binding
        return list(merged.values())


def open_app(args: argparse.Namespace) -> int:
    """Open the distributed app with parsed `run` options; return the exit status."""
    if args.consolidate:
        return usage_error(args, "--consolidate applies to check and dist-check; in the app, "
                                 "press z to check ZeRO's consolidated state")
    try:
        run = build_run(args)
    except (ScenarioError, ValueError) as error:
        return usage_error(args, str(error))
    app = DistributedApp(run)
    try:
        return app.run() or 0
    finally:
        # The driver closes the run before the app exits; should the app fail first, no
        # rank may outlive this process.
        app.driver.stop(CLOSE_WAIT_SECONDS)
        # The final garbage collection at interpreter exit goes over every object of torch
        # and Textual. It took about 1 s on two shared CPU cores, and it skips frozen objects.
        gc.freeze()
