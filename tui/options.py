"""Command-line options that describe a scenario, shared by the app and `check`."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from optimstep.core import DTYPES, FLAVOURS, PRESETS, Scenario, ScenarioError, Tolerance
from optimstep.core.custom import load_optimizer_class
from optimstep.core.presets import DEFAULT_PRESET
from optimstep.core.rules import RULES
from optimstep.core.scenario_file import load_scenario


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
    add_source_arguments(group)


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    """Build the scenario the options describe; raise ScenarioError on an invalid value."""
    scenario = source_scenario(args)
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


def add_source_arguments(group: argparse._ArgumentGroup) -> None:
    """Add the options that read a scenario file and swap in one's own optimizer class."""
    group.add_argument("--scenario", default=None, metavar="FILE",
                       help="scenario file (TOML) to start from instead of a preset; "
                            "see docs/scenarios.md")
    group.add_argument("--optimizer-class", default=None, metavar="MODULE:CLASS",
                       help="one's own torch.optim.Optimizer subclass, e.g. my_adam:MyAdam, "
                            "imported from the scenario file's folder, the current directory "
                            "or sys.path; it gets the scenario's hyper-parameters")
    group.add_argument("--reference-rule", choices=sorted(RULES), default=None,
                       help="rule to check the optimizer against (default: the optimizer's "
                            "own, or for --optimizer-class the rule of its nearest "
                            "torch.optim base class)")


def source_scenario(args: argparse.Namespace) -> Scenario:
    """Return the scenario of --scenario or --preset, with --optimizer-class and
    --reference-rule applied; raise ScenarioError on an invalid value.

    Options missing from `args` count as not given, for parsers built without
    add_source_arguments.
    """
    scenario_file = getattr(args, "scenario", None)
    optimizer_class = getattr(args, "optimizer_class", None)
    reference_rule = getattr(args, "reference_rule", None)
    if scenario_file is not None and args.preset != DEFAULT_PRESET:
        raise ScenarioError(f"invalid --preset: {args.preset!r} (expected no --preset with "
                            f"--scenario; a scenario file names its base with preset = ...)")
    if scenario_file is not None:
        scenario = load_scenario(scenario_file)
    elif args.preset in PRESETS:
        scenario = PRESETS[args.preset]
    else:
        raise ScenarioError(f"invalid --preset: {args.preset!r} (expected one of "
                            f"{', '.join(PRESETS)})")

    changes = {}
    if optimizer_class is not None:
        # Importing here names the flag in errors; the build finds the module imported.
        folders = [Path(scenario.source).resolve().parent] if scenario.source else []
        load_optimizer_class(optimizer_class, folders, key="--optimizer-class")
        changes["optimizer_class"] = optimizer_class
    if reference_rule is not None:
        changes["reference_rule"] = reference_rule
    return dataclasses.replace(scenario, **changes)
