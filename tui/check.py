"""`optimstep check`: step without the app, check every update, report as text or files."""

from __future__ import annotations

import argparse
import contextlib
import csv
import errno
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

import torch
from rich.console import Console

from optimstep import __version__
from optimstep.core import ScenarioError, Stepper, UserCodeError
from optimstep.core.export import (CSV_COLUMNS, CheckTally, atomic_file, check_target,
                                   csv_rows, junit_xml)
from optimstep.core.allocator import keep_freed_memory
from optimstep.core.record import StepRecord
from optimstep.core.trace import Panels, record_to_dict

from .deadline import DeadlineStepper, StepTimeout
from .options import add_scenario_arguments, scenario_from_args
from .report import StepReport, Summary

USAGE_ERROR = 2
"""Exit status for invalid usage and for outputs that cannot be written."""
RUN_FAILED = 3
"""Exit status when a step missed --step-timeout, or a rank of a distributed run raised,
exited or missed its deadline."""

BROKEN_PIPE = 141
INTERRUPTED = 130
"""Exit status after Ctrl-C, as a shell reports SIGINT."""
TERMINATED = 143
"""Exit status after SIGTERM, as a shell reports it."""
"""Exit status when the reader of stdout went away: 128 + SIGPIPE, as a shell reports it."""


def positive_int(text: str) -> int:
    """Parse a step count: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (expected an integer >= 1)")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `check` subcommand to the `optimstep` parser."""
    parser = subparsers.add_parser(
        "check", help="step without the app and check every update (exit 1 on a failure)",
        description="Take steps without the app, check each update against the optimizer's "
                    "published rule, and print a report. Exit status: 0 when every check "
                    "passed, 1 when any check failed or user code raised, 2 for invalid "
                    "usage or an output file that cannot be written, 3 when a step missed "
                    "--step-timeout or a rank failed, 130 or 143 after Ctrl-C or SIGTERM "
                    "(the steps taken are still written).")
    add_scenario_arguments(parser)
    run = parser.add_argument_group("run")
    run.add_argument("--steps", type=positive_int, default=None, metavar="N",
                     help="steps to take (default: the scenario's, 101 for the default one)")
    run.add_argument("--until-fail", action="store_true",
                     help="stop at the first step with a failed check and print it in full")
    output = parser.add_argument_group("output")
    output.add_argument("--quiet", "-q", action="store_true",
                        help="print only the summary, not each step")
    output.add_argument("--json", action="store_true",
                        help="write one JSON object per step and line (see docs/json.md) to "
                             "stdout, or to --output")
    output.add_argument("--output", "-o", metavar="FILE",
                        help="write the --json lines to FILE instead of stdout")
    output.add_argument("--junit", metavar="FILE",
                        help="write a JUnit XML report to FILE: one test case per check")
    output.add_argument("--csv", metavar="FILE",
                        help="write a CSV table to FILE: one row per step and parameter")
    output.add_argument("--force", action="store_true",
                        help="overwrite output files that exist")
    from .distributed import add_distributed_arguments  # imports this module: import late

    add_distributed_arguments(parser)
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace) -> int:
    """Run `optimstep check` with parsed arguments; return the exit status."""
    from . import distributed

    if args.ranks > 1:
        return distributed.handle(args)
    try:
        reject_distributed_options(args)
        scenario = scenario_from_args(args)
        # check never goes back, so it keeps no history: each step's tensors are freed
        # after the next step, and the step does not pay for a snapshot. The allocator
        # then hands the freed memory to the next step instead of mapping fresh pages.
        keep_freed_memory()
        stepper = Stepper.from_scenario(scenario, history_mib=0)
        reject_inputs_as_outputs(args, scenario, stepper)
        validate_outputs(args)
    except (ScenarioError, UsageError) as error:
        return usage_error(str(error))
    except OSError as error:
        return usage_error(describe_os_error(error))
    steps = args.steps if args.steps is not None else scenario.steps
    if args.step_timeout is not None:
        stepper = DeadlineStepper(stepper, args.step_timeout)
    if threading.current_thread() is not threading.main_thread():
        return run_check(stepper, args, steps)
    with StopRequest().installed() as stop:
        return run_check(stepper, args, steps, stop)


class UsageError(ValueError):
    """Options that contradict each other; the message names them."""


def reject_distributed_options(args: argparse.Namespace) -> None:
    """Raise UsageError when a single-process run got options of a distributed one."""
    from .distributed import distributed_only_options

    options = distributed_only_options(args)
    if options:
        verb = "applies" if len(options) == 1 else "apply"
        raise UsageError(f"{', '.join(options)} {verb} to a distributed run (add --ranks 2 "
                         "or more)")


def usage_error(message: str) -> int:
    """Print a one-line error on stderr and return the usage exit status."""
    print(f"optimstep check: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def describe_os_error(error: OSError) -> str:
    """Return one line on why an output file cannot be written."""
    if isinstance(error, FileExistsError):
        return f"{error.filename} exists (pass --force to overwrite it)"
    return f"cannot write {error.filename}: {error.strerror or error}"


def output_paths(args: argparse.Namespace) -> dict[str, str]:
    """Return each output file the options ask for, by option name."""
    paths = {"--output": args.output, "--junit": args.junit, "--csv": args.csv}
    return {option: path for option, path in paths.items() if path is not None}


def validate_outputs(args: argparse.Namespace) -> None:
    """Raise UsageError for contradicting output options, OSError for unwritable files."""
    if args.output is not None and not args.json:
        raise UsageError("--output needs --json (it names the file of the JSON lines)")
    paths = output_paths(args)
    for option, path in paths.items():
        if not path.strip() or path == "-":
            hint = " (--json without --output writes to stdout)" if option == "--output" else ""
            raise UsageError(f"invalid {option} {path!r}: expected a file path{hint}")
    seen: dict[str, str] = {}
    for option, path in paths.items():
        key = os.path.realpath(path)
        if key in seen:
            raise UsageError(f"{seen[key]} and {option} name the same file {path!r}")
        seen[key] = option
        check_target(path, args.force)


def input_files(scenario: Any, stepper: Any) -> dict[str, str]:
    """Return the files a run reads, by real path: scenario, data and optimizer module."""
    files = {}
    if scenario.source:
        files[os.path.realpath(scenario.source)] = "the scenario file"
    data_path = getattr(scenario.data, "path", None)
    if data_path is not None:
        files[os.path.realpath(data_path)] = "the data file"
    if scenario.optimizer_class:
        module = sys.modules.get(type(stepper.optimizer).__module__)
        module_file = getattr(module, "__file__", None)
        if module_file:
            files[os.path.realpath(module_file)] = "the optimizer's module"
    return files


def reject_inputs_as_outputs(args: argparse.Namespace, scenario: Any, stepper: Any) -> None:
    """Raise UsageError when an output option names a file the run reads, --force or not."""
    inputs = input_files(scenario, stepper)
    for option, path in output_paths(args).items():
        role = inputs.get(os.path.realpath(path))
        if role is not None:
            raise UsageError(f"invalid {option} {path!r}: it is {role} of this run "
                             "(write the output to another file)")


class ReportConsole(Console):
    """A Rich console that raises BrokenPipeError instead of exiting with status 1.

    Rich's default exit status 1 on a closed pipe would read as a failed check.
    """

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the reader of the output closed it")


def make_console(file: TextIO) -> Console:
    """Return a Rich console on `file`: no ANSI codes off a terminal or with NO_COLOR set."""
    no_color = bool(os.environ.get("NO_COLOR"))
    return ReportConsole(file=file, color_system=None if no_color else "auto",
                         highlight=False)


@dataclass
class _Writers:
    """Writers of a run's step records: JSON lines and CSV rows, None where not requested."""

    json: Any = None
    csv: Any = None


def run_check(stepper: Any, args: argparse.Namespace, steps: int,
              stop: StopRequest | None = None) -> int:
    """Take `steps` steps on `stepper`, report them as `args` requests, return the exit status.

    `stepper` is any source of StepRecords with `step()` and `name` (a Stepper in practice),
    so tests can run a deliberately wrong reference rule through the real command.
    """
    json_to_stdout = args.json and args.output is None
    console = make_console(sys.stderr if json_to_stdout else sys.stdout)
    try:
        return _run(stepper, args, steps, console, json_to_stdout, stop)
    except BrokenPipeError:
        # The reader of stdout closed it (e.g. `| head`); stop quietly as a shell tool does.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE
    except OSError as error:
        if error.filename in output_paths(args).values():
            return usage_error(describe_os_error(error))
        if error.filename is None:
            # stdout itself failed, e.g. redirected to a full disk.
            return usage_error(f"cannot write the output: {error.strerror or error}")
        raise


def _run(stepper: Any, args: argparse.Namespace, steps: int, console: Console,
         json_to_stdout: bool, stop: StopRequest | None) -> int:
    tally = CheckTally()
    started = time.perf_counter()
    with contextlib.ExitStack() as files:
        writers = _Writers()
        if args.json:
            writers.json = sys.stdout if json_to_stdout else files.enter_context(
                atomic_file(args.output, args.force))
        if args.csv:
            writers.csv = csv.DictWriter(files.enter_context(
                atomic_file(args.csv, args.force, newline="")), CSV_COLUMNS)
            writers.csv.writeheader()

        panels = getattr(getattr(stepper, "rule", None), "panels", None)
        user_error: UserCodeError | StepTimeout | Interrupted | None = None
        first: StepRecord | None = None
        for _ in range(steps):
            try:
                record = stepper.step()
            except (UserCodeError, StepTimeout) as error:
                # The model, loss or optimizer raised: what ran so far is still reported.
                user_error = error
                break
            except KeyboardInterrupt:
                # A second signal, or Ctrl-C without a StopRequest: stop in the step.
                name = stop.signal_name if stop and stop.signal_name else "SIGINT"
                user_error = Interrupted(tally.steps, name, during_step=True)
                break
            first = first or record
            tally.add(record)
            _write_record(writers, record, panels)
            stop_here = args.until_fail and not record.passed
            # JSON on stdout is the per-step output; stderr then gets only the summary.
            if stop_here or not (args.quiet or json_to_stdout):
                console.print(StepReport(record, full=stop_here))
            if stop_here:
                break
            if stop is not None and stop.signal_name is not None:
                user_error = Interrupted(tally.steps, stop.signal_name, during_step=False)
                break

        if args.junit:
            with atomic_file(args.junit, args.force) as file:
                file.write(_junit(stepper.name, first, tally, time.perf_counter() - started,
                                  user_error))
    console.print(Summary(tally, stopped_early=args.until_fail and not tally.passed,
                          error=None if user_error is None else str(user_error)))
    if isinstance(user_error, Interrupted):
        print(f"optimstep check: {user_error}", file=sys.stderr)
        return user_error.status
    if user_error is not None:
        print(f"optimstep check: error: {user_error}", file=sys.stderr)
        return RUN_FAILED if isinstance(user_error, StepTimeout) else 1
    return 0 if tally.passed else 1


class StopRequest:
    """A signal handler for SIGINT and SIGTERM that stops the run after the step in progress.

    Every step taken is then written whole. A second signal stops the run at once.
    """

    def __init__(self) -> None:
        self.signal_name: str | None = None

    def __call__(self, signum: int, frame: Any) -> None:
        if self.signal_name is not None:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """Handle SIGINT and SIGTERM with this request while the block runs."""
        previous = {signum: signal.signal(signum, self)
                    for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


class Interrupted(Exception):
    """A signal stopped the run; the steps taken before it are reported and written."""

    def __init__(self, steps: int, signal_name: str, during_step: bool) -> None:
        self.status = TERMINATED if signal_name == "SIGTERM" else INTERRUPTED
        cause = "Ctrl-C" if signal_name == "SIGINT" else signal_name
        where = f"during step {steps + 1}" if during_step else f"after step {steps}"
        super().__init__(f"interrupted by {cause} {where}; the {steps} steps taken are "
                         "reported and written")


def _write_record(writers: _Writers, record: StepRecord, panels: Panels | None) -> None:
    if writers.json is not None:
        writers.json.write(json.dumps(record_to_dict(record, panels)) + "\n")
        if writers.json is sys.stdout:
            sys.stdout.flush()
    if writers.csv is not None:
        writers.csv.writerows(csv_rows(record))


def _junit(name: str, first: StepRecord | None, tally: CheckTally, elapsed: float,
           error: Exception | None) -> str:
    properties = {"optimizer": first.optimizer if first else "",
                  "reference": first.reference if first else "",
                  "steps": tally.steps, "torch": torch.__version__,
                  "optimstep": __version__}
    if error is None:
        return junit_xml(tally, f"optimstep.{name}", properties, elapsed)
    return junit_xml(tally, f"optimstep.{name}", properties, elapsed, str(error),
                     type(error).__name__)
