"""The Stepper: runs one `optimizer.step()` at a time and checks it against the rule."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .bitwise import bitwise_equal, identical
from .checks import Check, Tolerance, compare
from .errors import UserCodeError
from .frozen import FrozenCopies
from .history import History, HyperparameterEdit, RecordList, Snapshot
from .hyperparameters import check_with_torch, checked_value, copied, same_value
from .record import ParamRecord, StepRecord
from .restore import RestorePoint
from .rules import Rule, RuleOutput, Term, rule_for
from .rules.base import DerivedTerm, stored
from .scenario import Scenario

logger = logging.getLogger(__name__)

Batch = tuple[torch.Tensor, torch.Tensor]
State = dict[str, torch.Tensor]


def _real(tensor: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(tensor) if tensor.is_complex() else tensor


def _as_tensors(state: dict[str, Any]) -> State:
    return {key: (value if isinstance(value, torch.Tensor) else torch.as_tensor(value))
            for key, value in state.items()}


def _same_state(a: State, b: State) -> bool:
    return a.keys() == b.keys() and all(a[key] is b[key] or torch.equal(a[key], b[key])
                                        for key in a)


def _operands(before: torch.Tensor | None, after: torch.Tensor) -> torch.Tensor | None:
    # |before| + |after| bounds both operands of an update after = before + Δ.
    if before is None:
        return None
    before, after = _real(before), _real(after)
    if before.shape != after.shape:
        return None
    return before.abs().double() + after.abs().double()


def _check(name: str, mode: str, actual: torch.Tensor, expected: torch.Tensor,
           tolerance: Tolerance, before: torch.Tensor | None) -> Check:
    # `identical` is compare's own fast path, taken here before the operands are computed.
    if identical(_real(actual), _real(expected)):
        return Check(name, mode, True, 0.0, 0.0, 0, tolerance)
    return compare(name, mode, _real(actual), expected, tolerance, _operands(before, expected))


def _in_mode(check: Check, mode: str) -> Check:
    # dataclasses.replace, at a fraction of its cost: the copy is changed before anyone sees it.
    copied = object.__new__(Check)
    copied.__dict__.update(check.__dict__, mode=mode)
    return copied


def _shareable(live: torch.Tensor, candidate: Any) -> bool:
    # The record may hold the rule's tensor in place of a copy of torch's when nothing tells
    # them apart: same bits, strides and no autograd history.
    return (isinstance(candidate, torch.Tensor) and not candidate.requires_grad
            and live.stride() == candidate.stride() and bitwise_equal(live.detach(), candidate))


def _real_terms(output: RuleOutput) -> tuple[Term, ...]:
    # Records show complex terms as real pairs, the form the rule's real arithmetic uses.
    # Derived terms are real already, and reading their value would compute it.
    return tuple(dataclasses.replace(term, value=_real(term.value))
                 if not isinstance(term, DerivedTerm) and term.value.is_complex() else term
                 for term in output.terms)


def group_hyperparameters(group: dict[str, Any]) -> dict[str, Any]:
    """Return a param group's hyper-parameters (everything but `params`), tensors copied."""
    return {key: (value.detach().clone() if isinstance(value, torch.Tensor) else value)
            for key, value in group.items() if key != "params"}


class Stepper:
    """Steps a model's optimizer and checks each step against a reference rule.

    Each step runs forward and backward on the next batch (batches cycle in order), records
    every parameter and torch's state before `optimizer.step()`, steps, then runs the rule
    twice: from torch's state before the step (`single` mode, which pinpoints a bad step)
    and from the rule's own state carried since step 1 (`carried` mode, a hand calculation).

    The stepper keeps a history (`core/history.py`) within `history_mib` MiB, so that it can
    go back (`back`, `goto`) and replay. Going back keeps the later steps: stepping forward
    again re-runs them, bit for bit. `set_hyperparameters` edits a param group at the current
    step. When the stepper is before its last step, the edit discards the later steps.
    With `history_mib=0` it keeps step 0 alone, as `optimstep check` does: going back then
    replays from step 0.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        batches: Sequence[Batch],
        *,
        rule: Rule | None = None,
        reference: str = "torch",
        tolerance: Tolerance | None = None,
        name: str = "custom",
        history_mib: float = 256,
    ) -> None:
        if not batches:
            raise ValueError("invalid batches: empty (expected at least one (inputs, targets) pair)")
        if isinstance(history_mib, bool) or not isinstance(history_mib, (int, float)) or not (
                0 <= history_mib < float("inf")):
            raise ValueError(f"invalid history_mib: {history_mib!r} (expected a finite number "
                             ">= 0 of MiB)")
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.batches = tuple(batches)
        self.rule = rule or rule_for(optimizer, reference)
        for group in optimizer.param_groups:
            # A group lacking a key the rule needs fails here, not at step 1.
            self.rule.complete(group)
        self.tolerance = tolerance
        """Tolerance override; None uses each parameter dtype's default."""
        self.name = name
        names = {id(p): n for n, p in model.named_parameters()}
        self.param_names = [
            [names.get(id(p), f"group{g}.param{i}") for i, p in enumerate(group["params"])]
            for g, group in enumerate(optimizer.param_groups)
        ]
        self._carried: dict[tuple[int, int], State] = {}
        self._frozen = FrozenCopies()
        self.history = History(int(history_mib * 2**20),
                               Snapshot.capture(0, model, optimizer, self._carried))
        """Snapshots, kept records and hyper-parameter edits; see `core/history.py`."""

    @classmethod
    def from_scenario(cls, scenario: Scenario, *, history_mib: float = 256) -> Stepper:
        """Build a stepper on a scenario's model, optimizer, loss and batches."""
        built = scenario.build()
        return cls(built.model, built.optimizer, built.loss_fn, built.batches,
                   reference=scenario.reference, tolerance=scenario.tolerance,
                   name=scenario.name, rule=built.rule, history_mib=history_mib)

    @property
    def step_count(self) -> int:
        """The step the stepper is at: steps taken since the start, less those gone back."""
        return self.history.position

    @property
    def records(self) -> RecordList:
        """Records of steps 1 to `step_count`; dropped ones are re-created by replay on read.

        NOTE: re-creating a record replays on the live model and optimizer, so read records
        from the thread that steps, never while a step runs.
        """
        return RecordList(self.history, self._recreate)

    @property
    def reference(self) -> str:
        """The active reference flavour."""
        return self.rule.flavour

    def tolerance_for(self, param: torch.Tensor) -> Tolerance:
        """Return the tolerance of checks on `param`."""
        return self.tolerance or Tolerance.for_dtype(param.dtype)

    def reset(self) -> None:
        """Return the model, optimizer, RNG and reference to their state before step 1.

        This clears the history, hyper-parameter edits included.
        """
        initial = self.history.nearest_snapshot(0)
        self._carried = initial.restore(self.model, self.optimizer)
        self._frozen.forget()
        self.history.clear(initial)

    def run(self, steps: int) -> list[StepRecord]:
        """Take `steps` steps and return their records."""
        return [self.step() for _ in range(steps)]

    def step(self) -> StepRecord:
        """Take one optimizer step, check it, and return its record.

        Raises UserCodeError when the model, loss function or optimizer raises. The stepper
        is then as it was before the step: same parameters, optimizer state and step_count.
        """
        t = self.step_count + 1
        inputs, targets = self.batches[(t - 1) % len(self.batches)]
        restore_point = RestorePoint(self.model)
        phase = "zero_grad"
        try:
            self.optimizer.zero_grad(set_to_none=True)
            phase = "forward"
            output = self.model(inputs)
            phase = "loss"
            loss = self.loss_fn(output, targets)
            phase = "backward"
            loss.backward()

            befores = [[self._before_step(p) for p in group["params"]]
                       for group in self.optimizer.param_groups]
            hyperparameters = tuple(group_hyperparameters(g)
                                    for g in self.optimizer.param_groups)
            restore_point.save_optimizer(
                self.optimizer, self._carried, [[b[0] for b in group] for group in befores],
                {p: b[3] for group, saved in zip(self.optimizer.param_groups, befores)
                 for p, b in zip(group["params"], saved) if p in self.optimizer.state})
            phase = "step"
            self.optimizer.step()

            phase = "reference"
            params: list[ParamRecord] = []
            single: list[Check] = []
            carried: list[Check] = []
            for g, group in enumerate(self.optimizer.param_groups):
                for i, p in enumerate(group["params"]):
                    before, grad, state_before, _ = befores[g][i]
                    record, checks = self._verify((g, i), p, before, grad, state_before,
                                                  hyperparameters[g])
                    params.append(record)
                    single += checks[0]
                    carried += checks[1]
        except Exception as error:  # noqa: BLE001 - user code may raise anything
            restore_point.restore()
            self._frozen.forget()
            logger.info("step %d: %s raised %r; state restored", t, phase, error)
            raise UserCodeError(t, phase, error) from error

        record = StepRecord(t, float(loss.detach()), tuple(params), tuple(single + carried),
                            self.rule.title, hyperparameters, self.rule.flavour)
        self._remember(record)
        self._frozen.sweep()
        if not record.passed:
            logger.info("step %d: %d check(s) failed", t, len(record.failures))
        return record

    def _before_step(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None,
                                                      State, dict[str, Any]]:
        """Return copies of a parameter, its gradient and its optimizer state before the step.

        The state comes twice: with tensors for the rule, and as torch keeps it for a restore.
        State tensors that torch left unchanged since the last step reuse their frozen copies.
        """
        saved = {key: (self._frozen.copy(value) if isinstance(value, torch.Tensor) else value)
                 for key, value in self.optimizer.state.get(p, {}).items()}
        grad = None if p.grad is None else p.grad.detach().clone()
        # The parameter usually holds what the last step left. Then that step's frozen copy
        # serves, once its bits are compared: the model may change it through `.data`, which
        # its version does not show.
        previous = self._frozen.last(p)
        before = previous if _shareable(p, previous) else p.detach().clone()
        return before, grad, _as_tensors(saved), saved

    def _verify(self, key, p, before, grad, state_before, hyperparameters):
        name = self.param_names[key[0]][key[1]]
        live_state = self.optimizer.state.get(p, {})
        if grad is None:
            return ParamRecord(name, key[0], before, self._freeze(p, None), None,
                               self._freeze_state(live_state, {})), ([], [])

        # Rules take complex tensors as they are and view them as real where torch does,
        # because complex and real arithmetic round differently.
        start = state_before or self.rule.initial_state(before, hyperparameters)
        single = self.rule.run(before, grad, start, hyperparameters)
        own = self._carried.get(key) or self.rule.initial_state(before, hyperparameters)
        # Identical inputs give identical outputs: skip the second run in the usual case.
        carried = single if _same_state(own, start) else self.rule.run(
            before, grad, own, hyperparameters)
        self._carried[key] = carried.state

        after = self._freeze(p, single.param)
        state_after = self._freeze_state(live_state, single.state)
        tolerance = self.tolerance_for(p)
        torch_before = (before, state_before)
        single_checks = self._compare(name, "single", single, after, state_after, torch_before,
                                      tolerance)
        carried_checks = ([_in_mode(check, "carried") for check in single_checks]
                          if carried is single else
                          self._compare(name, "carried", carried, after, state_after,
                                        torch_before, tolerance))
        # The update stays a Derived, computed when read, unless it must become complex.
        update = stored(single, "update")
        if before.is_complex() and not single.update.is_complex():
            update = torch.view_as_complex(single.update.contiguous())
        return ParamRecord(name, key[0], before, after, grad, state_after, _real_terms(single),
                           _real_terms(carried), update), (single_checks, carried_checks)

    def _freeze(self, live: torch.Tensor, candidate: Any) -> torch.Tensor:
        """Return a frozen copy of `live` after the step: `candidate` itself if bit-identical."""
        frozen = candidate if _shareable(live, candidate) else live.detach().clone()
        self._frozen.remember(live, frozen)
        return frozen

    def _freeze_state(self, live_state: dict[str, Any], rule_state: State) -> State:
        return {key: (self._freeze(value, rule_state.get(key))
                      if isinstance(value, torch.Tensor) else torch.as_tensor(value))
                for key, value in live_state.items()}

    @staticmethod
    def _compare(name: str, mode: str, output: RuleOutput, after: torch.Tensor,
                 torch_state: State, torch_before: tuple[torch.Tensor, State],
                 tolerance: Tolerance) -> list[Check]:
        param_before, state_before = torch_before
        checks = [_check(f"{name}.param", mode, after, output.param, tolerance, param_before)]
        for key, value in torch_state.items():
            if key in output.state:
                checks.append(_check(f"{name}.{key}", mode, value, output.state[key], tolerance,
                                     state_before.get(key)))
            else:
                checks.append(Check(f"{name}.{key}", mode, False, float("inf"), float("inf"), -1,
                                    tolerance, detail=f"the reference keeps no {key!r}"))
        return checks

    # History: going back, jumping and editing hyper-parameters.

    @property
    def latest_step(self) -> int:
        """The last step of the history; above `step_count` after going back."""
        return self.history.latest

    @property
    def history_bytes(self) -> int:
        """Memory the history holds, in bytes (tensor storage plus a per-tensor estimate)."""
        return self.history.nbytes

    @property
    def history_budget_bytes(self) -> int:
        """Memory the history may hold, in bytes; step 0's snapshot is kept even beyond it."""
        return self.history.budget_bytes

    @property
    def edits(self) -> tuple[HyperparameterEdit, ...]:
        """Hyper-parameter edits of the history in the order made, those after `step_count` too."""
        return tuple(self.history.edits)

    def back(self, steps: int = 1) -> StepRecord | None:
        """Go back `steps` steps; return the record of the step now current (None at step 0)."""
        if isinstance(steps, bool) or not isinstance(steps, int) or not (
                0 <= steps <= self.step_count):
            raise ValueError(f"invalid number of steps to go back: {steps!r} (expected an "
                             f"integer from 0 to {self.step_count}, the current step)")
        return self.goto(self.step_count - steps)

    def goto(self, step: int) -> StepRecord | None:
        """Move to `step` by rewinding or stepping forward; step 0 is before the first step.

        Return the record of that step (None for step 0). Rewinding restores the nearest
        snapshot at or before `step` and replays the steps after it.
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"invalid step: {step!r} (expected an integer >= 0)")
        start = self.history.nearest_snapshot(step)
        record = None
        if step < self.step_count or start.step > self.step_count:
            self._restore(start)
        while self.step_count < step:
            record = self.step()
        if record is None and step > 0:
            record = self.records[-1]
        logger.debug("now at step %d", step)
        return record

    def set_hyperparameters(self, group_index: int,
                            **values: Any) -> tuple[HyperparameterEdit, ...]:
        """Change hyper-parameters of one param group from the next step on.

        Raise ValueError naming the key, the value and what is allowed when a key is not in
        the group, cannot change during a run, or gets an invalid value. Nothing changes then.
        Return the edits made, where values equal to the current ones make none. Edits made
        before `latest_step` discard the steps after the current one.
        """
        groups = self.optimizer.param_groups
        if isinstance(group_index, bool) or not isinstance(group_index, int) or not (
                0 <= group_index < len(groups)):
            raise ValueError(f"invalid param group index: {group_index!r} (expected an "
                             f"integer from 0 to {len(groups) - 1})")
        group = groups[group_index]
        new = {key: checked_value(group, key, value) for key, value in values.items()}
        check_with_torch(type(self.optimizer), group_index, group, new)

        edits = tuple(HyperparameterEdit(self.step_count, group_index, key, copied(group[key]),
                                         copied(value))
                      for key, value in new.items() if not same_value(group[key], value))
        for edit in edits:
            self.history.add_edit(edit)
            group[edit.key] = copied(edit.new)
            logger.info("param group %d: %s %r -> %r from step %d", group_index, edit.key,
                        edit.old, edit.new, edit.step + 1)
        return edits

    def _capture(self, copies: FrozenCopies | None = None) -> Snapshot:
        return Snapshot.capture(self.step_count, self.model, self.optimizer, self._carried,
                                copies)

    def _restore(self, snapshot: Snapshot) -> None:
        """Move to the snapshot's step: load it, then apply the edits made at that step."""
        self._carried = snapshot.restore(self.model, self.optimizer)
        self._frozen.forget()
        self.history.position = snapshot.step
        self._apply_edits(snapshot.step)

    def _apply_edits(self, step: int) -> None:
        for edit in self.history.edits_at(step):
            self.optimizer.param_groups[edit.group][edit.key] = copied(edit.new)

    def _remember(self, record: StepRecord) -> None:
        """Move the history to a step just taken, keep it, and apply the edits made at it."""
        history = self.history
        history.advance(record.step)
        # A zero budget keeps step 0 alone: storing the step only to drop it again would
        # cost a snapshot and a walk over the record's tensors on every step.
        if not history.replaying and history.budget_bytes > 0:
            keep = history.wants_snapshot(record.step)
            # Right after the step, the record's frozen copies still match the live tensors.
            history.store(record, self._capture(self._frozen) if keep else None)
        self._apply_edits(record.step)

    def _recreate(self, first: int, last: int,
                  start: Snapshot | None) -> tuple[list[StepRecord], Snapshot]:
        """Replay steps `first` to `last` aside; return their records and a snapshot of `last`.

        Replays from the nearest snapshot before `first`, or from `start` when that is
        nearer, then returns the stepper to where it was. The history does not change, but
        two snapshots beyond its budget (where the stepper was, and `last`) exist meanwhile.
        """
        current = self._capture()
        nearest = self.history.nearest_snapshot(first - 1)
        if start is None or not nearest.step <= start.step < first:
            start = nearest
        self.history.replaying = True
        try:
            self._restore(start)
            records = [self.step() for _ in range(start.step, last)][first - start.step - 1:]
            end = self._capture()
        finally:
            self._restore(current)
            self.history.replaying = False
        return records, end
