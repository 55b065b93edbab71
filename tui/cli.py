"""The `optimstep` command: the app by default, `check` for a headless run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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

    try:
        scenario = scenario_from_args(args)
        rule = check_buildable(scenario)
    except ScenarioError as error:
        print(f"optimstep: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    from .app import OptimstepApp, describe_build_error

    # The app draws its first frame before the optimizer is built, because constructing the
    # first optimizer imports torch._dynamo (see check_buildable). What only the build can
    # reject (torch's checks of hyper-parameters, one's own optimizer's constructor) ends
    # the app, and the same one-line error follows.
    app = OptimstepApp.deferred(scenario.name, rule, lambda: Stepper.from_scenario(scenario),
                                ascii_only=args.ascii)
    status = app.run()
    if app.build_error is not None:
        print(f"optimstep: error: {describe_build_error(app.build_error)}", file=sys.stderr)
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
