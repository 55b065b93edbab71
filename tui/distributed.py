"""`optimstep check --ranks N` and `optimstep dist-check`: a distributed run, reported by Rich."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from optimstep.core import ScenarioError
from optimstep.core.checks import Check
from optimstep.core.distributed import (BACKENDS, MODELS, STRATEGIES, DistributedError,
                                        DistributedRun, DistributedStep, RankFailed, RankHung,
                                        ShardedScenario)
from optimstep.core.export import describe_failure
from optimstep.core.trace import check_to_dict

from .check import RUN_FAILED, USAGE_ERROR, make_console, positive_int
from .options import add_scenario_arguments, scenario_from_args
from .report import format_error, verdict

SHOWN_FAILURES = 5
"""Failed checks listed under a step line; the summary counts them all."""
STACK_LINES = 40
"""Last lines of a traceback or stack dump shown per rank."""

SINGLE_PROCESS_OUTPUTS = ("output", "junit", "csv")
"""`check` options that write files of single-process records only."""


def positive_seconds(text: str) -> float:
    """Parse a timeout: a finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (expected a number of "
                                         "seconds > 0)")
    return value


DEFAULT_STRATEGY = "ddp"
DEFAULT_STEP_TIMEOUT = 10.0
"""Seconds each step of every rank may take."""


def distributed_only_options(args: argparse.Namespace) -> list[str]:
    """Return the options given that only a distributed run (--ranks 2 or more) reads."""
    given = {"--strategy": args.strategy is not None,
             "--dist-model": args.dist_model != "scenario",
             "--backend": args.backend != "auto",
             "--consolidate": args.consolidate}
    return [option for option, present in given.items() if present]


def add_distributed_arguments(parser: argparse.ArgumentParser, default_ranks: int = 1) -> None:
    """Add the options of a distributed run: ranks, strategy, model, backend, deadline."""
    group = parser.add_argument_group("distributed")
    group.add_argument("--ranks", type=positive_int, default=default_ranks, metavar="N",
                       help="local rank processes; more than 1 runs a distributed check "
                            "(default: %(default)s)")
    # None marks an option not given, so that a single-process run can reject it.
    group.add_argument("--strategy", choices=tuple(STRATEGIES), default=None,
                       help="DistributedDataParallel, ZeroRedundancyOptimizer on DDP, or FSDP2 "
                            f"fully_shard (default: {DEFAULT_STRATEGY})")
    group.add_argument("--dist-model", choices=MODELS, default="scenario",
                       help="what the ranks train: the scenario's model with each batch split "
                            "by rank, or a seeded two-layer MLP with a data shard per rank "
                            "(default: %(default)s)")
    group.add_argument("--backend", choices=BACKENDS, default="auto",
                       help="process group backend; auto picks nccl when every rank has its "
                            "own CUDA device, else gloo (default: %(default)s)")
    group.add_argument("--step-timeout", type=positive_seconds, default=None, metavar="SECONDS",
                       help="deadline of each step, in seconds: on every rank of a distributed "
                            f"run (default: {DEFAULT_STEP_TIMEOUT:g}), and in a single-process "
                            "check (default: none); a step that misses it ends the run with "
                            "exit status 3")
    group.add_argument("--consolidate", action="store_true",
                       help="with --strategy zero: after the last step, gather the sharded "
                            "optimizer state on rank 0 and check it against each owner's")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `dist-check` subcommand: `check` on local ranks."""
    parser = subparsers.add_parser(
        "dist-check", help="check every rank's update of a distributed run on local ranks",
        description="Start N local rank processes, train the scenario under DDP, ZeRO or "
                    "FSDP2, and check each rank's parameters and optimizer state against the "
                    "optimizer's published rule, the averaging of the gradients, and the "
                    "agreement of replicated ranks. Exit status: 0 when every check passed, 1 "
                    "when any check failed, 2 for invalid usage, 3 when a rank raised, exited "
                    "or missed the step deadline.")
    add_scenario_arguments(parser)
    add_distributed_arguments(parser, default_ranks=2)
    run = parser.add_argument_group("run")
    run.add_argument("--steps", type=positive_int, default=None, metavar="N",
                     help="steps to take (default: the scenario's, 101 for the default one)")
    run.add_argument("--until-fail", action="store_true",
                     help="stop after the first step with a failed check")
    output = parser.add_argument_group("output")
    output.add_argument("--quiet", "-q", action="store_true",
                        help="print only the summary, not each step")
    output.add_argument("--json", action="store_true",
                        help="write one JSON object per step and line to stdout: every "
                             "rank's record, with its rank")
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace) -> int:
    """Run a distributed check with parsed arguments; return the exit status."""
    try:
        run = build_run(args)
    except (ScenarioError, ValueError) as error:
        return usage_error(args, str(error))
    steps = args.steps if args.steps is not None else run.scenario.scenario.steps
    json_lines = getattr(args, "json", False)
    console = make_console(sys.stderr if json_lines else sys.stdout)
    return run_distributed(run, steps, args, console)


def build_run(args: argparse.Namespace) -> DistributedRun:
    """Return the (unstarted) run the options describe; raise ValueError on invalid ones."""
    for option in SINGLE_PROCESS_OUTPUTS:
        if getattr(args, option, None):
            raise ValueError(f"--{option} applies to a single-process check (--ranks 1)")
    strategy = args.strategy or DEFAULT_STRATEGY
    if args.consolidate and strategy != "zero":
        raise ValueError(f"--consolidate needs --strategy zero, not {strategy}")
    base = scenario_from_args(args)
    if base.optimizer_class is not None:
        # The ranks build the optimizer by its torch name; one's own class would be dropped.
        raise ValueError(f"invalid optimizer class with --ranks {args.ranks}: "
                         f"{base.optimizer_class!r} (expected --ranks 1: a distributed run "
                         "steps torch's own optimizers only)")
    scenario = ShardedScenario(base, model=args.dist_model)
    try:
        return DistributedRun(scenario, strategy=strategy, world_size=args.ranks,
                              backend=args.backend,
                              step_timeout=args.step_timeout or DEFAULT_STEP_TIMEOUT)
    except (ScenarioError, ValueError) as error:
        # Core messages name the field ("ranks", "backend"); name the option instead.
        message = str(error).replace("invalid ranks:", "invalid --ranks:")
        raise ValueError(message.replace("invalid backend:", "invalid --backend:")) from None


def usage_error(args: argparse.Namespace, message: str) -> int:
    """Print a one-line error on stderr and return the usage exit status."""
    command = getattr(args, "command", None) or "check"
    print(f"optimstep {command}: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def run_distributed(run: DistributedRun, steps: int, args: argparse.Namespace,
                    console: Console) -> int:
    """Start the ranks, take `steps` steps, report them; return the exit status."""
    json_lines = getattr(args, "json", False)
    consolidated: tuple[Check, ...] = ()
    try:
        with run:
            for _ in range(steps):
                step = run.step()
                _emit_step(step, json_lines, getattr(args, "quiet", False), console)
                if getattr(args, "until_fail", False) and not step.passed:
                    break
            if args.consolidate:
                consolidated = run.consolidate()
                _emit_consolidated(consolidated, json_lines, console)
    except DistributedError as error:
        if json_lines and hasattr(error, "to_dict"):
            _write_json(error.to_dict())
        console.print(failure_report(error))
        return RUN_FAILED
    console.print(RunSummary(run, consolidated).render())
    passed = all(step.passed for step in run.records) and all(c.passed for c in consolidated)
    return 0 if passed else 1


def _emit_step(step: DistributedStep, json_lines: bool, quiet: bool, console: Console) -> None:
    if json_lines:
        _write_json(step.to_dict())
    elif not quiet:
        console.print(step_report(step))


def _emit_consolidated(checks: Sequence[Check], json_lines: bool, console: Console) -> None:
    if json_lines:
        _write_json({"kind": "consolidated", "passed": all(c.passed for c in checks),
                     "checks": [check_to_dict(check) for check in checks]})
    failed = [check for check in checks if not check.passed]
    line = Text.assemble(verdict(not failed), f"  consolidated state: {len(checks)} checks, "
                                             f"{len(failed)} failed")
    console.print(Group(line, *(_failure_line(None, check) for check in failed)))


def _write_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def step_report(step: DistributedStep) -> Group:
    """Return one line per step, each rank's verdict, and the first failed checks."""
    line = Text.assemble((f"Step {step.step}", "bold"), f"  loss {step.loss:.7g}")
    for rank in step.ranks:
        passed = len(rank.checks) - len(rank.failures)
        line.append(f"  rank {rank.rank} ")
        line.append_text(verdict(rank.passed))
        line.append(f" {passed}/{len(rank.checks)}")
    failures = step.failures
    lines = [line] + [_failure_line(rank, check) for rank, check in failures[:SHOWN_FAILURES]]
    if len(failures) > SHOWN_FAILURES:
        lines.append(Text(f"  … and {len(failures) - SHOWN_FAILURES} more failed checks"))
    return Group(*lines)


def _failure_line(rank: int | None, check: Check) -> Text:
    where = "" if rank is None else f"rank {rank} "
    return Text.assemble("  ", verdict(False),
                         f" {where}{check.name} ({check.mode}): {describe_failure(check)}")


class RunSummary:
    """Per rank: steps, checks, failures and the largest errors; then the verdict."""

    def __init__(self, run: DistributedRun, consolidated: Sequence[Check] = ()) -> None:
        self.run = run
        self.consolidated = tuple(consolidated)

    def render(self) -> Group:
        """Return the summary table and verdict line."""
        run = self.run
        title = Text(f"{STRATEGIES[run.strategy].title} · {run.world_size} ranks · "
                     f"{run.backend} · {run.name}", style="bold")
        table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold")
        for column in ("rank", "result", "checks", "failed", "max abs", "max ulp"):
            table.add_column(column, justify="left" if column == "result" else "right")
        for rank in range(run.world_size):
            checks = [c for step in run.records for c in step.ranks[rank].checks]
            table.add_row(*_rank_row(rank, checks))
        return Group(title, table, self._verdict())

    def _verdict(self) -> Text:
        records = self.run.records
        failures = sum(len(step.failures) for step in records)
        failures += sum(not check.passed for check in self.consolidated)
        checks = sum(len(rank.checks) for step in records for rank in step.ranks)
        return Text.assemble(verdict(failures == 0),
                             f"  {len(records)} steps on {self.run.world_size} ranks, "
                             f"{checks + len(self.consolidated)} checks, {failures} failed")


def _rank_row(rank: int, checks: list[Check]) -> tuple:
    failed = sum(not check.passed for check in checks)
    ulps = [check.max_ulp for check in checks] or [0]
    worst = max((check.max_abs_error for check in checks), default=0.0)
    return (str(rank), verdict(failed == 0), str(len(checks)), str(failed),
            format_error(worst), "-1" if min(ulps) < 0 else str(max(ulps)))


def failure_report(error: DistributedError) -> Panel:
    """Return a panel on a run that stopped: the failed rank's traceback, or each stuck rank."""
    if isinstance(error, RankFailed):
        title = f"rank {error.rank} failed at step {error.step} in {error.phase}"
        body = Group(Text(error.message, style="bold"), Text(_last_lines(error.traceback)))
    elif isinstance(error, RankHung):
        title = f"step {error.step} timed out after {error.timeout:g} s"
        body = Group(*(Group(Text(f"rank {stuck.rank}: {stuck.phase} for {stuck.seconds:.1f} s",
                                  style="bold"),
                             Text(_last_lines(stuck.stack) or "(no stack dump came back)"))
                       for stuck in error.stuck))
    else:
        title, body = "the run stopped", Text(str(error))
    return Panel(body, title=Text.assemble(verdict(False), f"  {title}"), title_align="left")


def _last_lines(text: str) -> str:
    return "\n".join(text.rstrip().splitlines()[-STACK_LINES:])
