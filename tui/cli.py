"""The `optimstep` command: the app by default, `check` for a headless run."""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import threading
import time
import sys
from collections.abc import Sequence
from typing import Any

from optimstep import __version__

USAGE_ERROR = 2
"""Exit status for invalid usage, as argparse uses."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `optimstep` and its subcommands."""
    from .options import add_scenario_arguments
    from . import check, distributed, presets, replay

    parser = _Parser(prog="optimstep",
                     description="Step a PyTorch optimizer one update at a time and check each "
                                 "update against the optimizer's published rule.")
    parser.add_argument("--version", action="version", version=f"optimstep {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=_Parser)
    app = commands.add_parser("run", help="open the app (the default command)")
    add_scenario_arguments(app)
    app.add_argument("--ascii", action="store_true",
                     help="draw borders, formulas and plots in ASCII (automatic with TERM=linux)")
    distributed.add_distributed_arguments(app)
    check.add_parser(commands)
    presets.add_parser(commands)
    replay.add_parser(commands)
    distributed.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `optimstep` with `argv` (default: the process's arguments); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "run")
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) if hasattr(args, "handler") else _run_app(args)
    except KeyboardInterrupt:
        return 130


def _run_app(args: argparse.Namespace) -> int:
    if args.ranks > 1:
        from .distributed_app import open_app

        return open_app(args)
    from optimstep.core import ScenarioError, Stepper
    from optimstep.core.builder import check_buildable

    from .options import scenario_from_args

    from .check import UsageError, reject_distributed_options

    try:
        reject_distributed_options(args)
        if args.step_timeout is not None:
            raise UsageError("--step-timeout applies to check and to a distributed run (add "
                             "--ranks 2 or more)")
        scenario = scenario_from_args(args)
        rule = check_buildable(scenario)
    except (ScenarioError, UsageError) as error:
        print(f"optimstep: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    from .app import OptimstepApp, describe_build_error

    # The app draws its first frame before the optimizer is built, because constructing the
    # first optimizer imports torch._dynamo (see check_buildable). What only the build can
    # reject (torch's checks of hyper-parameters, one's own optimizer's constructor) ends
    # the app, and the same one-line error follows.
    app = OptimstepApp.deferred(scenario.name, rule, lambda: Stepper.from_scenario(scenario),
                                ascii_only=args.ascii)
    status = run_app(app)
    if app.build_error is not None:
        print(f"optimstep: error: {describe_build_error(app.build_error)}", file=sys.stderr)
    return status or 0


STEP_GRACE_SECONDS = 2.0
"""How long a quit waits for a step still running in the model, loss or optimizer."""

WORKER_PREFIX = "optimstep-worker"
"""Name prefix of the threads that run the app's steps."""


def run_app(app: Any) -> Any:
    """Run a Textual app; when it quits during a step that does not return, exit anyway.

    Steps run on the event loop's default executor. asyncio.run would wait for them when the
    app ends, so a step that hangs in user code would keep the process alive forever. Here
    the process waits STEP_GRACE_SECONDS for the step, then exits without it.
    """
    loop = asyncio.new_event_loop()
    executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix=WORKER_PREFIX)
    loop.set_default_executor(executor)
    try:
        status = app.run(loop=loop)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + STEP_GRACE_SECONDS
    for thread in threading.enumerate():
        if thread.name.startswith(WORKER_PREFIX):
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                print("optimstep: a step was still running in the model, loss or optimizer "
                      "when the app quit; exited without waiting for it", file=sys.stderr)
                sys.stdout.flush()
                sys.stderr.flush()
                # The step's thread cannot be stopped, and interpreter exit would join it.
                os._exit(status or 0)
    loop.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
