"""`optimstep replay FILE`: open the app on a recorded trace instead of a live optimizer."""

from __future__ import annotations

import argparse
import os
import sys

from optimstep.core.replay import TraceSource
from optimstep.core.trace import TraceError, read_trace

USAGE_ERROR = 2
"""Exit status for invalid usage or a trace that cannot be read."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `replay` subcommand to the `optimstep` parser."""
    parser = subparsers.add_parser(
        "replay", help="open the app on a trace that `check --json` wrote",
        description="Open the app on a JSON-lines trace, as `optimstep check --json` writes "
                    "it. Each step shows the recorded step; nothing is recomputed, so a "
                    "trace from any torch version or device opens here.")
    parser.add_argument("trace", metavar="FILE", help="trace file, one JSON object per step")
    parser.set_defaults(handler=handle)
    return parser


def open_source(path: str, warnings: list[str] | None = None) -> TraceSource:
    """Read a trace into a source; warn on stderr when its last line was cut off.

    The warnings are also appended to `warnings`, where given.
    """
    trace = read_trace(path)
    if trace.truncated:
        warning = (f"{path} ends with an incomplete line; replaying its "
                   f"{len(trace.records)} complete steps")
        print(f"optimstep replay: warning: {warning}", file=sys.stderr)
        if warnings is not None:
            warnings.append(warning)
    return TraceSource(trace.records, os.path.basename(path), trace.panels)


def handle(args: argparse.Namespace) -> int:
    """Run `optimstep replay` with parsed arguments; return the exit status."""
    warnings: list[str] = []
    try:
        source = open_source(args.trace, warnings)
    except TraceError as error:
        print(f"optimstep replay: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    # The app imports Textual, which a trace that fails to read never needs.
    from .app import OptimstepApp
    from .cli import run_app

    app = OptimstepApp(source)
    # The app covers stderr while it runs, so it shows the warnings as notifications too.
    app.startup_warnings += warnings
    return run_app(app) or 0
