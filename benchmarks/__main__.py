"""`python -m benchmarks`: run the benchmarks, print the results, optionally update the page."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .page import command_line, results_block, write_results
from .plan import FULL, GROUPS, QUICK, run_group


def groups_argument(text: str) -> list[str]:
    """Parse `--only`: benchmark names separated by commas, each one of GROUPS."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in GROUPS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"invalid benchmark(s): {', '.join(unknown) or repr(text)} (expected a "
            f"comma-separated list of {', '.join(GROUPS)})")
    return names


def threads_argument(text: str) -> int:
    """Parse `--threads`: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (expected an integer >= 1)")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `python -m benchmarks`."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure optimstep's start-up, key latency, check overhead, terminal "
                    "output and history, each against a baseline taken in the same run, and "
                    "print the results as Markdown.")
    parser.add_argument("--only", type=groups_argument, default=list(GROUPS), metavar="NAMES",
                        help=f"run only these benchmarks, comma-separated: {', '.join(GROUPS)}")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and one or two repetitions: checks that everything "
                             "runs, in well under a minute; the figures mean nothing")
    parser.add_argument("--threads", type=threads_argument, default=1, metavar="N",
                        help="torch threads, here and in the app processes (default: 1, which "
                             "keeps figures steady on a shared machine)")
    parser.add_argument("--write", type=Path, metavar="FILE",
                        help="also replace the results between the markers in FILE, e.g. "
                             "docs/benchmarks.md")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks that `argv` selects; return the exit status."""
    args = build_parser().parse_args(argv)
    if args.write is not None and not args.write.is_file():
        print(f"python -m benchmarks: error: {args.write} not found (expected the results page, "
              "e.g. docs/benchmarks.md)", file=sys.stderr)
        return 2

    import torch

    torch.set_num_threads(args.threads)
    plan = QUICK if args.quick else FULL
    load = os.getloadavg()
    started = time.perf_counter()
    figures = []
    for name in args.only:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        figures += run_group(name, plan, args.threads)
    block = results_block(figures, command_line(), args.threads, load,
                          time.perf_counter() - started)
    print(block)
    if args.write is not None:
        write_results(args.write, block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
