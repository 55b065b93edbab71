"""Command-line options that describe a scenario, shared by the app and `check`."""

from __future__ import annotations

import argparse
import dataclasses

from optimstep.core import DTYPES, FLAVOURS, PRESETS, Scenario, ScenarioError, Tolerance
from optimstep.core.presets import DEFAULT_PRESET


def add_scenario_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that choose and adjust a scenario."""
    group = parser.add_argument_group("scenario")
    group.add_argument("--preset", default=DEFAULT_PRESET, metavar="NAME",
                       help=f"built-in scenario ({', '.join(PRESETS)}; default: %(default)s)")
    group.add_argument("--reference", choices=FLAVOURS, default=None,
                       help="reference flavour: torch's arithmetic order or the paper's formula "
                            "(default: torch)")
    group.add_argument("--dtype", choices=tuple(DTYPES), default=None,
                       help="parameter dtype (default: float32)")
    group.add_argument("--rtol", type=float, default=None, metavar="X",
                       help="relative tolerance of every check (default: the dtype's)")
    group.add_argument("--atol", type=float, default=None, metavar="X",
                       help="absolute tolerance of every check (default: the dtype's)")


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    """Build the scenario the options describe; raise ScenarioError on an invalid value."""
    if args.preset not in PRESETS:
        raise ScenarioError(f"invalid --preset: {args.preset!r} (expected one of "
                            f"{', '.join(PRESETS)})")
    scenario = PRESETS[args.preset]
    changes = {}
    if args.reference is not None:
        changes["reference"] = args.reference
    if args.dtype is not None:
        changes["dtype"] = args.dtype
    if args.rtol is not None or args.atol is not None:
        base = Tolerance.for_dtype(DTYPES[changes.get("dtype", scenario.dtype)])
        try:
            changes["tolerance"] = Tolerance(
                rtol=base.rtol if args.rtol is None else args.rtol,
                atol=base.atol if args.atol is None else args.atol)
        except ValueError as error:
            raise ScenarioError(str(error).replace("invalid ", "invalid --", 1)) from None
    return dataclasses.replace(scenario, **changes)
