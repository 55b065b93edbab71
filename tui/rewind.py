"""Moving through the history in the app: back, go to a step, autoplay, and live edits.

Every request that touches the source runs in the stepping thread, in the order of the
key presses (see `OptimstepApp._request`). Autoplay and long jumps hold that thread until
they stop, so any other request stops them first; only `p`, `+` and `-` act at once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from optimstep.core import NoMoreSteps, StepRecord
from optimstep.core.history import HyperparameterEdit
from optimstep.core.stepper import group_hyperparameters

from .autoplay import DEFAULT_SPEED, SPEEDS, Run, describe_speed, play
from .dialogs import QuitScreen
from .edit import EditScreen
from .goto import GotoScreen
from .messages import (EditRejected, HistoryMoved, HyperparametersEdited, HyperparametersRead,
                       PlayStopped, PositionChanged, SourceExhausted, StepFailed, StepsPlayed)
from .panels import AssertionLog, StatusHeader, describe_optimizer
from .position import Position, describe_history, read_position
from .values import format_value

if TYPE_CHECKING:
    from .app import OptimstepApp

logger = logging.getLogger(__name__)


def edit_text(edit: HyperparameterEdit) -> str:
    """Describe an edit for the log, as `group 0 lr 0.1 -> 0.01 from step 6`."""
    return (f"group {edit.group} {edit.key} {format_value(edit.old)} -> "
            f"{format_value(edit.new)} from step {edit.step + 1}")


class HistoryActions:
    """The app's keys for the history, and the quit confirmation that guards it.

    The keys are `b` back, `g` go to, `0` and `$` the ends, `p` autoplay, `+` and `-` its
    speed, and `e` edit. This is a mixin of OptimstepApp. It uses the app's source, its
    queue of requests to the stepping thread, and its `_show`.
    """

    position: Position | None = None
    """The source's position after the last request finished; None before the first."""
    shown_record: StepRecord | None = None
    """The record the panels show; None at step 0."""
    _run: Run | None = None
    _speed_index: int = DEFAULT_SPEED

    @property
    def shown_step(self) -> int:
        """The step the panels show."""
        return self.shown_record.step if self.shown_record else 0

    # Quitting.

    def history_steps(self: OptimstepApp) -> int:
        """Steps of the history that quitting would lose."""
        last = self.position.last if self.position and self.position.last else 0
        if getattr(self.source, "total_steps", None) is not None:
            # A trace stays on disk; only a live history is lost.
            return 0
        return max(self.shown_step, last)

    def confirm_quit(self: OptimstepApp) -> None:
        """Quit at once without history or from the confirmation; otherwise ask first."""
        steps = self.history_steps()
        if steps == 0 or isinstance(self.screen, QuitScreen):
            self.exit(0)
            return
        self.push_screen(QuitScreen(steps), self._quit_answered)

    def _quit_answered(self: OptimstepApp, quit_now: bool | None) -> None:
        if quit_now:
            self.exit(0)

    # Going back and jumping.

    def action_back(self: OptimstepApp, steps: int) -> None:
        """Go back `steps` steps."""
        if self.still_building():
            return
        if not self._can_go_back():
            return
        self._request(self._move_back, steps)

    def action_goto(self: OptimstepApp) -> None:
        """Ask for a step, then go there.

        The form opens from the stepping thread once earlier requests are done, so that
        `+N` and `-N` count from the step the source is really at.
        """
        self._request(self._open_goto)

    def _open_goto(self: OptimstepApp) -> None:
        current = self.source.step_count
        last = getattr(self.source, "total_steps", None)
        self.call_from_thread(lambda: self.push_screen(GotoScreen(current, last),
                                                       self._goto_answered))

    def _goto_answered(self: OptimstepApp, step: int | None) -> None:
        if step is not None:
            self.jump(step)

    def action_first_step(self: OptimstepApp) -> None:
        """Go to step 0, keeping the history."""
        self.jump(0)

    def action_latest_step(self: OptimstepApp) -> None:
        """Go to the last step of the history, or of a trace."""
        self.jump(None)

    def jump(self: OptimstepApp, step: int | None) -> None:
        """Go to `step` (None: the latest); steps past the history's end run as a jump."""
        if step is not None and step < self.shown_step and not self._can_go_back():
            return
        self.stop_run()
        run = Run(target=step)
        self._run = run
        self._run_in_turn(next(self._tickets), self._jump, (run,))

    def _can_go_back(self: OptimstepApp) -> bool:
        if hasattr(self.source, "back") and hasattr(self.source, "goto"):
            return True
        self.notify(f"{self.source.name} cannot go back: it only steps forward",
                    severity="warning", markup=False)
        return False

    def _move_back(self: OptimstepApp, steps: int) -> None:
        previous = self.source.step_count
        steps = min(steps, previous)
        with self._reporting_failures():
            self.post_message(HistoryMoved(previous, self.source.back(steps) if steps else None))

    def _jump(self: OptimstepApp, run: Run) -> None:
        source = self.source
        previous = source.step_count
        reachable = getattr(source, "latest_step", None)
        if reachable is None:
            reachable = getattr(source, "total_steps", previous)
        if run.target is None:
            run.target = reachable

        try:
            with self._reporting_failures():
                if run.target != previous and (run.target <= reachable
                                               or run.target < previous):
                    self.post_message(HistoryMoved(previous, source.goto(run.target)))
                elif run.target > previous:
                    if reachable > previous and hasattr(source, "goto"):
                        self.post_message(HistoryMoved(previous, source.goto(reachable)))
                    self._play(run)
        finally:
            self.post_message(PlayStopped(source.step_count, run.id))

    @contextlib.contextmanager
    def _reporting_failures(self: OptimstepApp) -> Iterator[None]:
        """Report an error of a step replayed while moving, as a failed step is reported."""
        try:
            yield
        except Exception as error:  # any error of the user's model or optimizer
            step = self.source.step_count + 1
            logger.warning("step %d failed: %s: %s", step, type(error).__name__, error,
                           exc_info=True)
            self.post_message(StepFailed(step, type(error).__name__, str(error)))

    # Autoplay.

    def action_autoplay(self: OptimstepApp) -> None:
        """Start autoplay, or stop it (or a running jump) after the step in progress."""
        if self._run is not None:
            self.stop_run()
            return
        run = Run(speed=SPEEDS[self._speed_index])
        self._run = run
        self.query_one(StatusHeader).activity = run.label
        self._run_in_turn(next(self._tickets), self._autoplay, (run,))

    def action_speed(self: OptimstepApp, change: int) -> None:
        """Make autoplay faster (`change` > 0) or slower, through SPEEDS."""
        self._speed_index = min(max(self._speed_index + change, 0), len(SPEEDS) - 1)
        speed = SPEEDS[self._speed_index]
        run = self._run
        if run is not None and run.target is None:
            run.speed = speed
            self.query_one(StatusHeader).activity = run.label
        else:
            self.notify(f"autoplay speed {describe_speed(speed)}", markup=False)

    def stop_run(self: OptimstepApp) -> None:
        """Stop autoplay or a jump after the step in progress; the header says so at once."""
        run, self._run = self._run, None
        if run is not None:
            run.stop.set()
            self.query_one(StatusHeader).activity = ""

    def _autoplay(self: OptimstepApp, run: Run) -> None:
        try:
            self._play(run)
        finally:
            self.post_message(PlayStopped(self.source.step_count, run.id))

    def _play(self: OptimstepApp, run: Run) -> None:
        """Step until the run stops; report the end of a source or an error as `n` does."""
        def post_frame(records: list[StepRecord]) -> None:
            self.post_message(StepsPlayed(tuple(records), read_position(self.source), run.id))

        with self._reporting_failures():
            try:
                play(self.source, run, post_frame)
            except NoMoreSteps:
                self.post_message(SourceExhausted(self.source.step_count))

    # Live hyper-parameter edits.

    def action_edit(self: OptimstepApp) -> None:
        """Open the edit form on the current step's hyper-parameters."""
        if self.still_building():
            return
        if not hasattr(self.source, "set_hyperparameters"):
            self.notify(f"{self.source.name} cannot change hyper-parameters: edits need a live "
                        "optimizer, and a trace only replays recorded steps",
                        severity="warning", markup=False)
            return
        self._request(self._read_hyperparameters)

    def _read_hyperparameters(self: OptimstepApp) -> None:
        source: Any = self.source
        groups = tuple(group_hyperparameters(group) for group in source.optimizer.param_groups)
        names = getattr(source, "param_names", None) or [[] for _ in groups]
        self.post_message(HyperparametersRead(source.step_count, groups,
                                              tuple(tuple(group) for group in names)))

    def on_hyperparameters_read(self: OptimstepApp, message: HyperparametersRead) -> None:
        self.push_screen(EditScreen(message.step, message.groups, message.names,
                                    self._apply_edit))

    def _apply_edit(self: OptimstepApp, group: int, values: dict[str, Any]) -> None:
        self._request(self._edit, group, values)

    def _edit(self: OptimstepApp, group: int, values: dict[str, Any]) -> None:
        source: Any = self.source
        latest = source.latest_step
        try:
            edits = source.set_hyperparameters(group, **values)
        except ValueError as error:
            self.post_message(EditRejected(str(error)))
            return
        discarded = latest - source.step_count if edits else 0
        self.post_message(HyperparametersEdited(tuple(edits), discarded))

    def on_edit_rejected(self: OptimstepApp, message: EditRejected) -> None:
        if isinstance(self.screen, EditScreen):
            self.screen.rejected(message.message)
        else:
            self.notify(message.message, severity="error", markup=False)

    def on_hyperparameters_edited(self: OptimstepApp, message: HyperparametersEdited) -> None:
        if isinstance(self.screen, EditScreen):
            self.screen.dismiss(None)
        log = self.query_one(AssertionLog)
        for edit in message.edits:
            log.show_note(edit.step, "EDIT", edit_text(edit))
        if message.discarded:
            step = message.edits[0].step
            log.show_note(step, "EDIT", f"discarded steps {step + 1}-{step + message.discarded}"
                                        ", which ran with the old values")
        if not message.edits:
            self.notify("the values equal the current ones: nothing changed", markup=False)

    # What the stepping thread reports.

    def on_history_moved(self: OptimstepApp, message: HistoryMoved) -> None:
        record = message.record
        step = record.step if record else 0
        if step == message.previous == 0:
            self.notify("already at step 0, before the first step", markup=False)
        elif step != message.previous:
            kind = "BACK" if step < message.previous else "JUMP"
            self.query_one(AssertionLog).show_note(step, kind, f"from step {message.previous} "
                                                               f"to step {step}")
        self._show(record)

    def on_steps_played(self: OptimstepApp, message: StepsPlayed) -> None:
        run = self._run
        if run is not None and run.id == message.run:
            # Stepping resumes once this frame is painted, so painting gets the CPU.
            self.call_after_refresh(run.frame_shown.set)
            self.query_one(StatusHeader).activity = run.label
        log = self.query_one(AssertionLog)
        if len(message.records) == 1:
            log.show_records(message.records)
        else:
            log.show_batch(message.records)
        self._show(message.records[-1])
        self._show_position(message.position)

    def on_play_stopped(self: OptimstepApp, message: PlayStopped) -> None:
        run = self._run
        if run is not None and run.id == message.run:
            self._run = None
            self.query_one(StatusHeader).activity = ""

    def on_position_changed(self: OptimstepApp, message: PositionChanged) -> None:
        self._show_position(message.position)

    def _show_position(self: OptimstepApp, position: Position) -> None:
        self.position = position
        header = self.query_one(StatusHeader)
        header.last = position.last
        header.history = describe_history(position)
        if position.hyperparameters is not None:
            rule = self.source.rule
            header.optimizer = describe_optimizer(getattr(rule, "title", ""),
                                                  position.hyperparameters,
                                                  getattr(rule, "hyperparameters", None))
