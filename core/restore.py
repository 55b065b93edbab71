"""Restore points: put a Stepper back as it was before a step whose user code raised."""

from __future__ import annotations

import copy
from typing import Any

import torch


class RestorePoint:
    """The parts of a stepper a failed step may have changed, saved before the step.

    `__init__` saves what forward and backward can change: torch's CPU RNG (dropout) and
    the model's buffers (e.g. BatchNorm running statistics). `save_optimizer` saves, just
    before `optimizer.step()`, the parameters, the optimizer's state and param groups, and
    the reference's carried state.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.rng = torch.get_rng_state()
        self.buffers = {name: buffer.detach().clone() for name, buffer in model.named_buffers()}
        self.optimizer: torch.optim.Optimizer | None = None

    def save_optimizer(self, optimizer: torch.optim.Optimizer, carried: dict[Any, Any],
                       params: list[list[torch.Tensor]] | None = None,
                       state: dict[torch.Tensor, dict[str, Any]] | None = None) -> None:
        """Save the parameters, optimizer state and groups, and the carried reference state.

        A caller that already holds copies passes them: `params` per group and parameter,
        `state` per parameter. They are kept as they are and must not change afterwards;
        `restore` installs copies of the state, never the saved tensors themselves.
        """
        self.optimizer = optimizer
        self.params = params if params is not None else [
            [p.detach().clone() for p in group["params"]] for group in optimizer.param_groups]
        self.state = state if state is not None else {
            p: copy.deepcopy(state) for p, state in optimizer.state.items()}
        self.groups = [{k: _copied(v) for k, v in group.items() if k != "params"}
                       for group in optimizer.param_groups]
        self.carried_dict = carried
        self.carried = dict(carried)

    def restore(self) -> None:
        """Put back everything saved; the optimizer part only if it was saved."""
        # NOTE: the CUDA RNG is not saved, so a retried step on a GPU may draw other numbers.
        torch.set_rng_state(self.rng)
        with torch.no_grad():
            for name, buffer in self.model.named_buffers():
                if name in self.buffers:
                    buffer.copy_(self.buffers[name])
        if self.optimizer is not None:
            self._restore_optimizer(self.optimizer)

    def _restore_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        with torch.no_grad():
            for group, saved_params, saved_group in zip(optimizer.param_groups, self.params,
                                                        self.groups):
                for param, saved in zip(group["params"], saved_params):
                    param.copy_(saved)
                group.update(saved_group)
        optimizer.state.clear()
        # Copies, because the optimizer's next step changes its state in place.
        optimizer.state.update({p: copy.deepcopy(state) for p, state in self.state.items()})
        self.carried_dict.clear()
        self.carried_dict.update(self.carried)


_IMMUTABLE = (int, float, bool, str, bytes, type(None))


def _copied(value: Any) -> Any:
    """Return a copy of a param-group value that a step cannot change: numbers, strings and
    tuples of them as they are (as deepcopy returns them, only faster), anything else
    deep-copied."""
    if isinstance(value, _IMMUTABLE) or (
            type(value) is tuple and all(isinstance(item, _IMMUTABLE) for item in value)):
        return value
    return copy.deepcopy(value)
