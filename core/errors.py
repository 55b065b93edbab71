"""Errors raised while stepping: user code that failed inside `Stepper.step()`."""

from __future__ import annotations

PHASES = ("zero_grad", "forward", "loss", "backward", "step", "reference")
"""Phases of a step, in order. `zero_grad` and `step` are the optimizer's methods;
`reference` is the reference rule running on the optimizer's param groups and state."""


class UserCodeError(RuntimeError):
    """The model, loss function or optimizer raised during a step.

    The stepper has put back its state from before the failed step (parameters, buffers,
    optimizer state, RNG), so `step_count` is unchanged and the next `step()` retries it.
    The original exception is `error` and also `__cause__`.
    """

    def __init__(self, step: int, phase: str, error: BaseException) -> None:
        self.step = step
        """Number of the step that failed (t, starting at 1)."""
        self.phase = phase
        """One of PHASES: where the exception came from."""
        self.error = error
        """The exception user code raised."""
        detail = " ".join(str(error).split())
        super().__init__(f"step {step}: {phase} raised {type(error).__name__}"
                         + (f": {detail}" if detail else ""))
