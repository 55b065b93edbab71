"""Step history: snapshots to rewind to, kept records, hyper-parameter edits, a memory budget.

The history is one timeline of steps 0 (before the first step) to `latest`. The Stepper is at
`position` on it. Going back keeps the steps after the position, and stepping forward
again re-runs them, which gives the same records bit for bit because the engine is
deterministic. An edit of a hyper-parameter at a position before `latest` changes that future,
so the history discards every step, snapshot and edit after the position.

Memory stays within a budget. Step 0's snapshot is always kept. Other snapshots are kept for
every recent step and, further back, for every k-th step, with k doubling as the history grows
(see `History.wants_snapshot`). Any step is reachable by restoring the nearest snapshot at or
before it and replaying. Records are dropped farthest from the position first, and a dropped
record is re-created by replay when someone reads it.

NOTE: replay reproduces the first pass bit for bit only where the model's kernels are
deterministic, which torch guarantees only under `torch.use_deterministic_algorithms(True)`.
The tests check CPU runs of Linear, Tanh and Dropout layers.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import functools
import inspect
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import torch

from .bitwise import bitwise_equal
from .checks import Check, Tolerance
from .frozen import FrozenCopies
from .record import StepRecord

logger = logging.getLogger(__name__)

State = dict[str, torch.Tensor]
ParamKey = tuple[int, int]
"""(param group index, index of the parameter in its group)."""

TENSOR_OVERHEAD_BYTES = 540
"""Estimated memory of one tensor beyond its storage bytes: the Python object, TensorImpl and
storage bookkeeping. Measured as the resident-memory growth per 0-d float32 tensor over
200,000 tensors on torch 2.13.0, CPU, Linux x86-64 (about 540 bytes)."""


@dataclass(frozen=True)
class HyperparameterEdit:
    """One change of one hyper-parameter of a param group, made while standing at `step`."""

    step: int
    """The step the edit was made at: it applies from step `step + 1` on."""
    group: int
    """Index of the param group in `optimizer.param_groups`."""
    key: str
    """The hyper-parameter, e.g. `lr`."""
    old: Any
    """Its value before the edit."""
    new: Any
    """Its value after the edit."""


def tensor_bytes(*objects: Any) -> int:
    """Return the memory the tensors inside `objects` hold, counting each storage once.

    Walks mappings, lists, tuples and dataclass instances, except those of TENSOR_FREE types.
    Each distinct storage counts its bytes and each distinct tensor object adds
    TENSOR_OVERHEAD_BYTES.
    """
    storages: set[tuple[int, str]] = set()
    visited: set[int] = set()
    total = 0
    pending = list(objects)
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind in TENSOR_FREE or id(item) in visited:
            continue
        # Records list the same terms twice (single and carried), so each object is walked
        # once; the objects stay alive meanwhile, so their ids are not reused.
        visited.add(id(item))
        if isinstance(item, torch.Tensor):
            total += TENSOR_OVERHEAD_BYTES + _storage_bytes(item, storages)
        elif kind is tuple or kind is list or isinstance(item, (list, tuple)):
            pending.extend(item)
        elif kind is dict or isinstance(item, Mapping):
            pending.extend(item.values())
        else:
            pending.extend([getattr(item, name) for name in _field_names(kind)])
    return total


TENSOR_FREE: set[type] = {str, int, float, bool, type(None), Check, Tolerance}
"""Types whose instances hold no tensor, which `tensor_bytes` skips without looking inside."""


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    # A type may name the attributes that hold its tensors, e.g. a term computed on each read.
    named = getattr(kind, "TENSOR_FIELDS", None)
    if named is not None:
        return tuple(named)
    if not dataclasses.is_dataclass(kind):
        return ()
    # A DerivedField holds its tensor or Derived under another name; reading the field
    # itself would compute a Derived.
    return tuple(getattr(inspect.getattr_static(kind, field.name, None), "stored_name",
                         field.name) for field in dataclasses.fields(kind))


def _storage_bytes(tensor: torch.Tensor, seen: set[tuple[int, str]]) -> int:
    try:
        storage = tensor.untyped_storage()
    except (RuntimeError, NotImplementedError):
        # Sparse and some subclass tensors have no single storage: count their elements.
        return tensor.element_size() * tensor.nelement()
    key = (storage.data_ptr(), str(tensor.device))
    if key in seen:
        return 0
    seen.add(key)
    return storage.nbytes()


def _real(tensor: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(tensor) if tensor.is_complex() else tensor


_bitwise_equal = bitwise_equal


@dataclass(frozen=True)
class Snapshot:
    """Everything a Stepper needs to return to one step. Tensors are private copies.

    NOTE: state outside these parts is not saved: non-persistent buffers and plain attributes
    of the model, state inside the loss function, and Python's, NumPy's and MPS's RNGs.
    """

    step: int
    """The step the state is after (0: before the first step)."""
    model: dict[str, torch.Tensor]
    """The model's state_dict."""
    optimizer: dict[str, Any]
    """The optimizer's state_dict, with the param groups' hyper-parameters."""
    cpu_rng: torch.Tensor
    """torch's CPU random number generator state."""
    cuda_rng: tuple[torch.Tensor, ...]
    """Each CUDA device's generator state; empty when CUDA was not initialised."""
    carried: dict[ParamKey, State | None]
    """The reference's carried state per parameter. None stands for a state equal, bit for
    bit, to torch's optimizer state of that parameter, which is then not stored twice."""
    nbytes: int = 0
    """Memory of the tensors above, as `tensor_bytes` counts it."""

    @classmethod
    def capture(cls, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                carried: Mapping[ParamKey, State], copies: FrozenCopies | None = None) -> Snapshot:
        """Copy the state of a model, its optimizer, the RNGs and the carried reference state.

        `copies` may hold frozen copies of the live tensors, made since their last change;
        the snapshot then shares those instead of copying again.
        """
        copies = copies or FrozenCopies()
        model_state = {name: _copy(copies, value)
                       for name, value in model.state_dict(keep_vars=True).items()}
        optimizer_state = _copy_optimizer_state(copies, optimizer.state_dict())
        cuda_rng = tuple(torch.cuda.get_rng_state_all()) if torch.cuda.is_initialized() else ()
        own = {key: (None if _matches_torch(optimizer, key, state, copies)
                     else {name: value.detach().clone() for name, value in state.items()})
               for key, state in carried.items()}
        snapshot = cls(step, model_state, optimizer_state, torch.get_rng_state(), cuda_rng, own)
        nbytes = tensor_bytes(model_state, optimizer_state, snapshot.cpu_rng, cuda_rng, own)
        return dataclasses.replace(snapshot, nbytes=nbytes)

    def restore(self, model: torch.nn.Module,
                optimizer: torch.optim.Optimizer) -> dict[ParamKey, State]:
        """Load this state into the model, optimizer and RNGs; return the carried state.

        The optimizer's state and param groups are updated in place, unlike with
        `optimizer.load_state_dict`, which replaces the group dicts that callers may hold.
        """
        model.load_state_dict(self.model)
        self._restore_optimizer(optimizer)
        torch.set_rng_state(self.cpu_rng)
        if self.cuda_rng:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        return {key: self._carried_state(key, state, optimizer)
                for key, state in self.carried.items()}

    def _restore_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        # state_dict numbers the parameters in param-group order; copies keep this snapshot
        # safe from the optimizer's in-place updates.
        params = [param for group in optimizer.param_groups for param in group["params"]]
        optimizer.state.clear()
        for index, state in copy.deepcopy(self.optimizer["state"]).items():
            optimizer.state[params[index]] = state
        for group, saved in zip(optimizer.param_groups, self.optimizer["param_groups"]):
            group.update({key: copy.deepcopy(value) for key, value in saved.items()
                          if key != "params"})

    @staticmethod
    def _carried_state(key: ParamKey, state: State | None,
                       optimizer: torch.optim.Optimizer) -> State:
        if state is None:
            state = {name: _real(value) for name, value in _torch_state(optimizer, key).items()}
        return {name: value.clone() for name, value in state.items()}


def _torch_state(optimizer: torch.optim.Optimizer, key: ParamKey) -> Mapping[str, Any]:
    param = optimizer.param_groups[key[0]]["params"][key[1]]
    return optimizer.state.get(param, {})


def _copy(copies: FrozenCopies, value: torch.Tensor) -> torch.Tensor:
    # Only copies made since the tensor's last change count; nothing new is remembered.
    known = copies.known(value)
    return known if known is not None else value.detach().clone()


def _copy_optimizer_state(copies: FrozenCopies, state_dict: dict[str, Any]) -> dict[str, Any]:
    """Return a private copy of `optimizer.state_dict()`: its state tensors copied or shared
    from `copies`, and everything else deep-copied."""
    copied = {key: _deep_copy(value) for key, value in state_dict.items() if key != "state"}
    copied["state"] = {index: {name: (_copy(copies, value) if isinstance(value, torch.Tensor)
                                      else _deep_copy(value))
                               for name, value in state.items()}
                       for index, state in state_dict["state"].items()}
    return copied


def _deep_copy(value: Any) -> Any:
    """Return copy.deepcopy(value), quicker for the plain values that fill param groups."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is tuple and all(type(item) in _IMMUTABLE for item in value):
        return value
    if kind is list:
        return [_deep_copy(item) for item in value]
    if kind is dict:
        return {_deep_copy(key): _deep_copy(item) for key, item in value.items()}
    return copy.deepcopy(value)


_IMMUTABLE = {str, int, float, bool, complex, type(None)}


def _matches_torch(optimizer: torch.optim.Optimizer, key: ParamKey, state: State,
                   copies: FrozenCopies) -> bool:
    theirs = _torch_state(optimizer, key)
    return (theirs.keys() == state.keys()
            and all(isinstance(theirs[name], torch.Tensor)
                    and (copies.known(theirs[name]) is state[name]
                         or _bitwise_equal(_real(theirs[name]), state[name])) for name in state))


class History:
    """Snapshots, records and hyper-parameter edits of one timeline, within a memory budget.

    Snapshots are taken after a step and before that step's edits, so standing at step s
    means: snapshot s (or a replay to s), then the edits made at s.
    """

    def __init__(self, budget_bytes: int, initial: Snapshot) -> None:
        self.budget_bytes = budget_bytes
        """Memory the history may use, in bytes. Step 0's snapshot is kept even beyond it."""
        self.replaying = False
        """While True, steps move the position but store nothing (a temporary replay)."""
        self.clear(initial)

    def clear(self, initial: Snapshot) -> None:
        """Forget every step, keeping only `initial` (step 0's snapshot)."""
        self.position = 0
        """The step the Stepper is at."""
        self.latest = 0
        """The last step of the timeline; above `position` after going back."""
        self.edits: list[HyperparameterEdit] = []
        """Edits of the timeline in the order they were made, those after `position` too."""
        self._snapshots: dict[int, Snapshot] = {0: initial}
        self._snapshot_steps = [0]
        self._records: dict[int, tuple[StepRecord, int]] = {}
        self._record_steps: list[int] = []
        self.snapshot_bytes = initial.nbytes
        self.record_bytes = 0
        self.last_record_bytes = 0
        """Memory of the most recently stored record: the size of the next one, estimated."""
        self._recent: int | None = None
        self._spacing = 1
        self._warned = False

    @property
    def snapshot_steps(self) -> tuple[int, ...]:
        """Steps with a kept snapshot, ascending: the points a rewind can restore directly."""
        return tuple(self._snapshot_steps)

    @property
    def record_steps(self) -> tuple[int, ...]:
        """Steps with a kept record, ascending; the others are re-created by replay."""
        return tuple(self._record_steps)

    @property
    def nbytes(self) -> int:
        """Memory the history holds: snapshots and records, as `tensor_bytes` counts it."""
        return self.snapshot_bytes + self.record_bytes

    def advance(self, step: int) -> None:
        """Move the position to `step`, a step already in the timeline or the one after it."""
        self.position = step
        if step > self.latest:
            self.latest = step
            self._prune_aged_snapshots()

    def wants_snapshot(self, step: int) -> bool:
        """Return whether a snapshot of `step` belongs in the history at the current thinning.

        Before the first thinning every step is kept. After it, the steps less than R steps
        before `latest` are kept, and older steps that are multiples of the spacing k. Each
        thinning halves R or doubles k, and the window of R steps only moves forward, so a
        dropped snapshot is never wanted again.
        """
        if step == 0 or self._recent is None:
            return True
        return self.latest - step < self._recent or step % self._spacing == 0

    def store(self, record: StepRecord, snapshot: Snapshot | None) -> None:
        """Keep the record of a step just taken and its snapshot, then fit the budget."""
        self._put_record(record)
        if snapshot is not None:
            self._drop_snapshot(snapshot.step)
            self._snapshots[snapshot.step] = snapshot
            bisect.insort(self._snapshot_steps, snapshot.step)
            self.snapshot_bytes += snapshot.nbytes
        self._fit_budget()

    def cache(self, record: StepRecord) -> None:
        """Keep a record that a replay re-created, as far as the budget allows."""
        self._put_record(record)
        self._fit_budget()

    def record(self, step: int) -> StepRecord | None:
        """Return the kept record of `step`, or None when it was dropped or never taken."""
        kept = self._records.get(step)
        return kept[0] if kept else None

    def next_record_step(self, step: int) -> int | None:
        """Return the first step at or after `step` whose record is kept, or None."""
        index = bisect.bisect_left(self._record_steps, step)
        return self._record_steps[index] if index < len(self._record_steps) else None

    def nearest_snapshot(self, step: int) -> Snapshot:
        """Return the kept snapshot of the latest step at or before `step`."""
        index = bisect.bisect_right(self._snapshot_steps, step) - 1
        return self._snapshots[self._snapshot_steps[index]]

    def edits_at(self, step: int) -> list[HyperparameterEdit]:
        """Return the edits made while standing at `step`, in the order they were made."""
        return [edit for edit in self.edits if edit.step == step]

    def add_edit(self, edit: HyperparameterEdit) -> None:
        """Record an edit made at the position, first discarding the steps after it."""
        if self.latest > edit.step:
            self._truncate(edit.step)
        self.edits.append(edit)

    def _truncate(self, step: int) -> None:
        for later in [s for s in self._record_steps if s > step]:
            self._drop_record(later)
        for later in [s for s in self._snapshot_steps if s > step]:
            self._drop_snapshot(later)
        self.edits = [edit for edit in self.edits if edit.step <= step]
        self.latest = step
        logger.debug("discarded the steps after step %d", step)

    def _put_record(self, record: StepRecord) -> None:
        self._drop_record(record.step)
        nbytes = tensor_bytes(record)
        self._records[record.step] = (record, nbytes)
        bisect.insort(self._record_steps, record.step)
        self.record_bytes += nbytes
        self.last_record_bytes = nbytes

    def _drop_record(self, step: int) -> None:
        kept = self._records.pop(step, None)
        if kept is not None:
            self._record_steps.remove(step)
            self.record_bytes -= kept[1]

    def _drop_snapshot(self, step: int) -> None:
        snapshot = self._snapshots.pop(step, None)
        if snapshot is not None:
            self._snapshot_steps.remove(step)
            self.snapshot_bytes -= snapshot.nbytes

    def _prune_snapshots(self) -> None:
        if self._recent is not None:
            for step in [s for s in self._snapshot_steps if not self.wants_snapshot(s)]:
                self._drop_snapshot(step)

    def _prune_aged_snapshots(self) -> None:
        """Drop the snapshot that `latest` moving up by one took out of the recent steps."""
        if self._recent is not None:
            step = self.latest - self._recent
            if step in self._snapshots and not self.wants_snapshot(step):
                self._drop_snapshot(step)

    def _fit_budget(self) -> None:
        """Drop records and thin snapshots until the history fits its budget.

        Records go first while they take more than half of the budget, the record at the
        position last of them. Then snapshots are thinned. Records left go last.
        """
        while self.nbytes > self.budget_bytes:
            if self.record_bytes > self.budget_bytes // 2 and (
                    self._evict_record(self.position) or self._evict_record(None)):
                continue
            if self._thin_snapshots() or self._evict_record(None):
                continue
            if not self._warned and self.budget_bytes > 0:
                logger.warning("history budget of %d bytes is below the %d bytes of the "
                               "snapshot of step 0, which is always kept. Raise history_mib "
                               "to keep more steps.", self.budget_bytes, self.snapshot_bytes)
                self._warned = True
            return

    def _evict_record(self, keep: int | None) -> bool:
        """Drop the record farthest from the position, unless it is step `keep`."""
        if not self._record_steps:
            return False
        first, last = self._record_steps[0], self._record_steps[-1]
        farthest = first if self.position - first >= last - self.position else last
        if farthest == keep:
            return False
        self._drop_record(farthest)
        return True

    def _thin_snapshots(self) -> bool:
        """Halve the recent steps R or double the spacing k, then drop what is not wanted.

        R halves while the snapshots at spacing k are no more than R, so that about as
        many snapshots serve going back a few steps as serve jumping far back.
        """
        if len(self._snapshot_steps) == 1:
            return False
        if self._recent is None:
            self._recent, self._spacing = len(self._snapshot_steps) // 2, 2
        elif self._recent > 0 and (self.latest - self._recent) // self._spacing <= self._recent:
            self._recent //= 2
        else:
            self._spacing *= 2
        self._prune_snapshots()
        logger.debug("history thinned to %d snapshots (%d recent, then every %d steps)",
                     len(self._snapshot_steps), self._recent, self._spacing)
        return True


class RecordList(Sequence[StepRecord]):
    """The records of steps 1 to the position, as a read-only sequence (index 0 is step 1).

    Slices, `+` and `*` return lists, as they would on the list of records this replaces.

    A record the history dropped is re-created by `recreate(first, last, start)`, which
    replays from the nearest snapshot (or the later snapshot `start`) and returns the records
    of steps first to last with a snapshot of step `last`. Iterating re-creates dropped
    records in runs, each sized to fit half the budget, resuming from the previous run's end.
    Do not step the Stepper while iterating.
    """

    def __init__(self, history: History,
                 recreate: Callable[[int, int, Snapshot | None],
                                    tuple[list[StepRecord], Snapshot]]) -> None:
        self._history = history
        self._recreate = recreate

    def __len__(self) -> int:
        return self._history.position

    @overload
    def __getitem__(self, index: int) -> StepRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[StepRecord]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            steps = range(1, len(self) + 1)[index]
            if steps.step == 1 or len(steps) <= 1:
                return list(self._between(steps[0], steps[-1])) if steps else []
            return [self[step - 1] for step in steps]
        step = range(1, len(self) + 1)[index]
        kept = self._history.record(step)
        if kept is not None:
            return kept
        record = self._recreate(step, step, None)[0][0]
        self._history.cache(record)
        return record

    def __iter__(self) -> Iterator[StepRecord]:
        return self._between(1, len(self))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return False
        return all(a is b or a == b for a, b in zip(self, other))

    def __add__(self, other: Sequence[StepRecord]) -> list[StepRecord]:
        return list(self) + list(other)

    def __radd__(self, other: Sequence[StepRecord]) -> list[StepRecord]:
        return list(other) + list(self)

    def __mul__(self, times: int) -> list[StepRecord]:
        return list(self) * times

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"RecordList(steps 1 to {len(self)})"

    def _between(self, first: int, last: int) -> Iterator[StepRecord]:
        cursor: Snapshot | None = None
        step = first
        while step <= last:
            kept = self._history.record(step)
            if kept is not None:
                yield kept
                step += 1
                continue
            end = min(last, step + self._run_length() - 1)
            following = self._history.next_record_step(step)
            if following is not None:
                end = min(end, following - 1)
            records, cursor = self._recreate(step, end, cursor)
            yield from records
            step = end + 1

    def _run_length(self) -> int:
        estimate = max(1, self._history.last_record_bytes)
        return max(1, self._history.budget_bytes // 2 // estimate)
