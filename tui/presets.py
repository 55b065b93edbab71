"""`optimstep presets`: list the built-in scenarios, one line each."""

from __future__ import annotations

import argparse

from optimstep.core import PRESETS
from optimstep.core.presets import DEFAULT_PRESET


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `presets` subcommand."""
    parser = subparsers.add_parser(
        "presets", help="list the built-in scenarios",
        description="List the built-in scenarios that --preset NAME selects.")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Print each preset's name and description; return exit status 0."""
    for line in preset_lines():
        print(line)
    return 0


def preset_lines() -> list[str]:
    """Return one line per preset: the name, padded, then the description."""
    width = max(len(name) for name in PRESETS)
    return [f"{name:<{width}}  {scenario.description}"
            + (" (default)" if name == DEFAULT_PRESET else "")
            for name, scenario in PRESETS.items()]
