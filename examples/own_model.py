"""Step one's own model, data and optimizer in optimstep: a template to copy.

    python examples/own_model.py           # open the app on this model
    python examples/own_model.py --check   # 20 steps without the app; exit status 1 on a failure

Replace the model, the batches, the loss or the optimizer with your own. optimstep checks
every step of a torch optimizer that has a reference rule (Adam, AdamW) against that rule.
"""

import argparse
import sys

import torch

from optimstep.core import Stepper, UserCodeError


class TwoLayerNet(torch.nn.Module):
    """x → tanh(x·W1ᵀ + b1)·W2ᵀ + b2, for one input and one output."""

    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(1, hidden)
        self.output = torch.nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(torch.tanh(self.hidden(x)))


def make_batches(samples: int = 64,
                 batch_size: int = 16) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Return (inputs, targets) batches of y = sin(3x) on [-1, 1]; the stepper cycles them."""
    x = torch.linspace(-1.0, 1.0, samples).unsqueeze(1)
    y = torch.sin(3 * x)
    order = torch.randperm(samples, generator=torch.Generator().manual_seed(0))
    x, y = x[order], y[order]
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, samples, batch_size)]


def make_stepper() -> Stepper:
    """Build the model, Adam and the data, and wrap them in a Stepper."""
    torch.manual_seed(0)
    model = TwoLayerNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05, betas=(0.9, 0.999))
    loss_fn = torch.nn.MSELoss()
    return Stepper(model, optimizer, loss_fn, make_batches(), name="own model")


def check(stepper: Stepper, steps: int) -> int:
    """Take `steps` steps, print one line per step and a summary; return the exit status."""
    failed = 0
    worst_ulp = 0
    for _ in range(steps):
        try:
            record = stepper.step()
        except UserCodeError as error:
            print(f"FAIL  {error}")
            return 1
        failed += not record.passed
        worst_ulp = max([worst_ulp, *(check.max_ulp for check in record.checks)])
        verdict = "PASS" if record.passed else "FAIL " + ", ".join(
            f"{c.name} ({c.mode}, abs error {c.max_abs_error:.3g})" for c in record.failures)
        print(f"step {record.step:3d}  loss {record.loss:.6f}  {verdict}")

    checks = len(stepper.records[-1].checks)
    summary = "PASS" if failed == 0 else "FAIL"
    print(f"{summary}: {steps - failed} of {steps} steps passed all {checks} checks; "
          f"largest error {worst_ulp} ulp")
    return 0 if failed == 0 else 1


def main(argv: list[str] | None = None) -> int:
    """Open the app, or with --check run headless and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="take 20 steps without the app and print PASS or FAIL")
    args = parser.parse_args(argv)

    stepper = make_stepper()
    if args.check:
        return check(stepper, 20)
    from optimstep.tui import run

    return run(stepper)


if __name__ == "__main__":
    sys.exit(main())
