"""Frozen copies of torch's live tensors, reused for as long as torch leaves a tensor unchanged."""

from __future__ import annotations

import torch


class FrozenCopies:
    """Private copies of live tensors (parameters, optimizer state) that nothing modifies.

    `copy(live)` returns the copy made or remembered for `live` while `live` is the same
    object at the same `_version`, and a new copy otherwise. torch bumps a tensor's version
    on every in-place change of it or of a view of it. Because a copy is never modified,
    records, snapshots and the reference rule's state may share it.

    `sweep()` drops the copies not used since the previous sweep, so copies of tensors that
    torch no longer holds do not pile up.

    NOTE: a change made through `tensor.data` leaves the version as it was, so such a change
    between `remember` and `copy` goes unnoticed. The Stepper relies on copies only for
    optimizer state and, right after a step, for parameters; torch's optimizers and the
    Stepper's restores change them in place or replace them.
    """

    def __init__(self) -> None:
        self._copies: dict[int, tuple[torch.Tensor, int, torch.Tensor]] = {}
        self._used: dict[int, tuple[torch.Tensor, int, torch.Tensor]] = {}

    def copy(self, live: torch.Tensor) -> torch.Tensor:
        """Return a frozen copy of `live`: the one kept for it if still valid, else a new one."""
        frozen = self.known(live)
        if frozen is None:
            frozen = live.detach().clone()
            self.remember(live, frozen)
        return frozen

    def known(self, live: torch.Tensor) -> torch.Tensor | None:
        """Return the copy kept for `live` if `live` is unchanged since, else None."""
        key = id(live)
        kept = self._used.get(key) or self._copies.get(key)
        if kept is None or kept[0] is not live or kept[1] != live._version:
            return None
        self._used[key] = kept
        return kept[2]

    def last(self, live: torch.Tensor) -> torch.Tensor | None:
        """Return the copy last kept for `live`, changed since or not, or None.

        The caller checks the bits itself where a change through `.data` must not slip by.
        """
        key = id(live)
        kept = self._used.get(key) or self._copies.get(key)
        if kept is None or kept[0] is not live:
            return None
        self._used[key] = kept
        return kept[2]

    def remember(self, live: torch.Tensor, frozen: torch.Tensor) -> None:
        """Keep `frozen`, which holds the same bits as `live` now, as `live`'s copy."""
        # Holding `live` keeps its id from being reused by another tensor meanwhile.
        self._used[id(live)] = (live, live._version, frozen)

    def sweep(self) -> None:
        """Drop the copies that were not made, read or remembered since the previous sweep."""
        self._copies, self._used = self._used, {}

    def forget(self) -> None:
        """Drop every copy, e.g. after the live tensors were replaced or loaded."""
        self._copies.clear()
        self._used.clear()
