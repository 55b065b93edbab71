"""The app of a distributed run: it launches the ranks, steps them all, shows any rank's proof."""

from __future__ import annotations

import argparse
import gc
import logging
import time

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.logging import TextualHandler
from textual.reactive import reactive
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from optimstep.core import Check, ScenarioError, StepRecord
from optimstep.core.distributed import (STRATEGIES, DistributedRun, DistributedStep, RankFailed,
                                        RankHung, RankPhase)
from optimstep.core.rules import RULES

from .distributed import build_run, usage_error
from .distributed_driver import RunDriver
from .distributed_failure import FailureScreen, failure_title
from .distributed_messages import (PhasesRead, RanksClosed, RanksStarted, RanksStepped,
                                   RunStopped, StateConsolidated)
from .distributed_views import (RANK_KEYS, LogEntry, RankRow, RankTable, consolidated_note,
                                error_note, summary_line, write_entries)
from .help import HelpScreen
from .panels import (OTHER_TITLE, AssertionLog, GradientsPanel, ParametersPanel, RecordPanel,
                     Start, StatusHeader, TermsPanel, UpdatesPanel, describe_optimizer)

logger = logging.getLogger(__name__)

FAST_FORWARD_STEPS = 10
"""Steps taken by `f`."""
CLOSE_WAIT_SECONDS = 30.0
"""How long `open_app` waits for the driver to close the run once the app has gone."""

STARTING, READY, STOPPED, CLOSING, CLOSED = "starting", "ready", "stopped", "closing", "closed"
"""States of the run as the app shows it; STOPPED means a rank failed or hung."""


RANK_KEYS_GROUP = Binding.Group("Rank")
"""Shows the rank keys in the footer as one entry, `1-9 [ ] Rank`."""


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
        Binding("pageup", "scroll_log(-1)", "Scroll the log up", id="log-up", show=False),
        Binding("pagedown", "scroll_log(1)", "Scroll the log down", id="log-down", show=False),
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
        self.steps: list[DistributedStep] = []
        self.entries: list[list[LogEntry]] = [[] for _ in range(run.world_size)]
        self.consolidated: tuple[Check, ...] = ()
        self.phases: dict[int, RankPhase] = {}
        self.pids: tuple[int, ...] = ()
        self.error: Exception | None = None
        self.target_step = 0
        self._started_at = time.monotonic()
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
            self.notify(f"stepping is disabled: {self._stopped_reason()}", severity="warning")
            return
        self.target_step += count
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
        elif not self.steps:
            self.notify("take a step first: ZeRO has no optimizer state before step 1",
                        severity="warning")
        else:
            self.driver.request_consolidation()

    def action_toggle_panels(self) -> None:
        """Show or hide the selected rank's panels."""
        self.show_panels = not self.show_panels

    def action_show_error(self) -> None:
        """Show again why the run stopped."""
        if self.error is None:
            self.notify("no rank has failed", severity="information")
        else:
            self.push_screen(FailureScreen(self.error))

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

    def action_scroll_log(self, pages: int) -> None:
        """Scroll the assertion log by `pages` pages (negative: up)."""
        log = self.query_one(AssertionLog)
        if pages < 0:
            log.scroll_page_up()
        else:
            log.scroll_page_down()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # `z` is ZeRO's only: the other strategies have no sharded state to gather.
        if action == "consolidate":
            return self.dist_run.strategy == "zero"
        return True

    # Messages from the driver

    @on(RanksStarted)
    def _show_started(self, message: RanksStarted) -> None:
        self.pids = message.pids
        self.run_state = READY
        self.notify(f"{len(message.pids)} ranks started in {message.seconds:.1f} s")

    @on(RanksStepped)
    def _show_step(self, message: RanksStepped) -> None:
        step = message.step
        self.steps.append(step)
        for rank in step.ranks:
            self.entries[rank.rank].append(rank.record)
        self.query_one(AssertionLog).show_records([step.ranks[self.selected].record])
        self._show_record()
        self._show_table()
        self._show_status()

    @on(StateConsolidated)
    def _show_consolidated(self, message: StateConsolidated) -> None:
        self.consolidated = message.checks
        owners = self._owners()
        for rank in range(self.dist_run.world_size):
            checks = [check for check in message.checks
                      if owners.get(check.name.rsplit(".", 1)[0], 0) == rank]
            if checks:
                self._add_entry(rank, consolidated_note(message.step, checks))
        failed = sum(not check.passed for check in message.checks)
        self.notify(f"consolidated state on rank 0: {len(message.checks)} checks, "
                    f"{failed} failed", severity="error" if failed else "information")
        self._show_status()

    @on(RunStopped)
    def _show_stopped(self, message: RunStopped) -> None:
        self.error = message.error
        self.run_state = STOPPED
        self._log_failure(message.error)
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
        self.phases = message.phases
        self.pids = message.pids
        self._show_table()

    # Views

    def watch_selected(self) -> None:
        self._show_rank()

    def watch_run_state(self) -> None:
        self._show_table()
        self._show_status()

    def watch_show_panels(self, show: bool) -> None:
        self.query_one("#body").set_class(show, "-panels")

    def _show_rank(self) -> None:
        rank = self.selected
        where = f"rank {rank} of {self.dist_run.world_size}"
        self.query_one("#log-box").border_title = f"Assertion log: {where}"
        self.query_one("#panels-box").border_title = f"Panels: {where}"
        log = self.query_one(AssertionLog)
        log.show_start()
        write_entries(log, self.entries[rank])
        self._show_record()
        self._show_table()

    def _show_record(self) -> None:
        record = self._selected_record()
        header = self.query_one(StatusHeader)
        header.step = self.steps[-1].step if self.steps else 0
        header.loss = self.steps[-1].loss if self.steps else None
        header.optimizer = describe_optimizer(
            record.optimizer if record else self.rule.title,
            record.hyperparameters if record else (), self.rule.hyperparameters)
        start = Start(optimizer=self.rule.title)
        for panel in self.query(RecordPanel):
            panel.show(record, start)

    def _show_table(self) -> None:
        rows = [self._rank_row(rank) for rank in range(self.dist_run.world_size)]
        self.query_one(RankTable).show(rows, self.selected)

    def _show_status(self) -> None:
        self.query_one("#summary", Static).update(
            summary_line(self.steps, self.dist_run.world_size, self.consolidated))
        self.query_one("#run-status", Static).update(self._status_text())

    def _tick(self) -> None:
        if self.run_state == STARTING:
            self._show_status()

    def _status_text(self) -> str:
        ranks = self.dist_run.world_size
        if self.run_state == STARTING:
            seconds = time.monotonic() - self._started_at
            queued = f"; {self.target_step} steps queued" if self.target_step else ""
            return f"starting {ranks} ranks… {seconds:.0f} s (q quits){queued}"
        if self.run_state == READY:
            if self.target_step > len(self.steps):
                return f"stepping every rank: step {len(self.steps) + 1} of {self.target_step}…"
            return "ready: n steps every rank; 1-9, [ ] or Tab select a rank; ? help"
        if self.run_state == STOPPED:
            return f"{failure_title(self.error)}. Every rank was stopped and stepping is " \
                   "disabled: e shows the error, q quits."
        if self.run_state == CLOSING:
            return f"stopping {ranks} ranks…"
        return "every rank has stopped"

    def _stopped_reason(self) -> str:
        if self.run_state == STOPPED:
            return f"{failure_title(self.error)}; q quits"
        return "the ranks are stopping" if self.run_state == CLOSING else "the ranks have stopped"

    def _ranks_title(self) -> str:
        strategy = STRATEGIES[self.dist_run.strategy].title
        return f"Ranks: {strategy} on {self.dist_run.world_size} ranks, {self.dist_run.backend}"

    def _rank_row(self, rank: int) -> RankRow:
        last = self.steps[-1].ranks[rank] if self.steps else None
        return RankRow(rank, self.pids[rank] if rank < len(self.pids) else None,
                       self._phase_text(rank), last.step if last else 0,
                       last.loss if last else None, len(last.checks) if last else 0,
                       len(last.failures) if last else 0)

    def _phase_text(self, rank: int) -> str:
        error = self.error
        if isinstance(error, RankFailed) and error.rank == rank:
            return f"failed: {error.phase}"
        if isinstance(error, RankHung):
            stuck = {s.rank: s.phase for s in error.stuck}
            if rank in stuck:
                return f"hung: {stuck[rank]}"
        if self.run_state in (STOPPED, CLOSED):
            return "stopped"
        phase = self.phases.get(rank)
        if phase is None:
            return "starting" if self.run_state == STARTING else "—"
        return phase.phase

    def _selected_record(self) -> StepRecord | None:
        return self.steps[-1].ranks[self.selected].record if self.steps else None

    def _owners(self) -> dict[str, int]:
        # Under ZeRO each parameter's state lives on the rank whose record lists it.
        if not self.steps:
            return {}
        return {param.name: rank.rank for rank in self.steps[-1].ranks
                for param in rank.record.params}

    def _add_entry(self, rank: int, entry: LogEntry) -> None:
        self.entries[rank].append(entry)
        if rank == self.selected:
            write_entries(self.query_one(AssertionLog), [entry])

    def _log_failure(self, error: Exception) -> None:
        step = getattr(error, "step", len(self.steps) + 1)
        noted: set[int] = set()
        if isinstance(error, RankFailed):
            self._add_entry(error.rank, error_note(step, f"rank {error.rank} in {error.phase}",
                                                   error.message, error.traceback))
            noted.add(error.rank)
        elif isinstance(error, RankHung):
            for stuck in error.stuck:
                self._add_entry(stuck.rank, error_note(
                    step, f"rank {stuck.rank} timed out in {stuck.phase}",
                    f"no answer after {error.timeout:g} s; its stack follows",
                    stuck.stack or "(no stack dump came back)"))
                noted.add(stuck.rank)
        for rank in range(self.dist_run.world_size):
            if rank not in noted:
                self._add_entry(rank, error_note(step, "stopped", failure_title(error)))

    def _help_bindings(self) -> list[Binding]:
        # The nine digit keys read as one line of help.
        digits = Binding("1,2,3,4,5,6,7,8,9", "select_rank", "Select rank 0 to 8",
                         id="rank-1-9")
        others = [binding for binding in self.BINDINGS
                  if not (binding.id or "").startswith("rank-")
                  and self.check_action(binding.action, ())]
        return [*others[:2], digits, *others[2:]]


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
        # The final garbage collection at interpreter exit, over every object of torch and
        # Textual, took about 1 s on two shared CPU cores; frozen objects are skipped.
        gc.freeze()
