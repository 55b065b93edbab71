"""Command-line options that describe a scenario, shared by the app and `check`."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from optimstep.core import DTYPES, FLAVOURS, PRESETS, Scenario, ScenarioError, Tolerance
from optimstep.core.custom import constructor_keys, load_optimizer_class
from optimstep.core.presets import DEFAULT_PRESET
from optimstep.core.rules import RULES
from optimstep.core.scenario_file import load_scenario

SETTING_VALUES = "true, false, none, a number, or numbers separated by commas"
"""The values `--set` accepts, in words."""


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
    group.add_argument("--device", default=None, metavar="DEVICE",
                       help="device of the model and data, e.g. cpu or cuda:0 (default: cpu)")
    group.add_argument("--rtol", type=float, default=None, metavar="X",
                       help="relative tolerance of every check (default: the dtype's)")
    group.add_argument("--atol", type=float, default=None, metavar="X",
                       help="absolute tolerance of every check (default: the dtype's)")
    add_source_arguments(group)
    _add_optimizer_arguments(parser)


def _add_optimizer_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("optimizer")
    group.add_argument("--optimizer", default=None, metavar="NAME",
                       help=f"torch optimizer ({', '.join(RULES)}; default: the preset's). "
                            "Another optimizer starts from torch's defaults, keeping the "
                            "preset's learning rate")
    group.add_argument("--lr", type=float, default=None, metavar="X", help="learning rate")
    group.add_argument("--betas", default=None, metavar="B1,B2",
                       help="moment decay rates of the Adam family, e.g. 0.9,0.999")
    group.add_argument("--eps", type=float, default=None, metavar="X",
                       help="term added to the denominator for numerical stability")
    group.add_argument("--weight-decay", type=float, default=None, metavar="X",
                       help="weight decay factor (L2 penalty, or decoupled for AdamW)")
    group.add_argument("--momentum", type=float, default=None, metavar="X",
                       help="momentum factor (SGD, RMSprop)")
    group.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       dest="settings",
                       help=f"any other keyword of the optimizer, e.g. nesterov=true or "
                            f"betas=0.9,0.99; VALUE is {SETTING_VALUES}; repeatable")


def parse_value(text: str) -> Any:
    """Return a `--set` value as a bool, None, int, float, or a tuple of them."""
    stripped = text.strip()
    if "," in stripped:
        return tuple(parse_value(part) for part in stripped.split(","))
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(stripped)
        except ValueError:
            pass
    raise ScenarioError(f"invalid value: {text!r} (expected {SETTING_VALUES})")


def parse_setting(text: str) -> tuple[str, Any]:
    """Return the keyword and value of one `--set KEY=VALUE`, hyphens in KEY read as `_`."""
    key, separator, value = text.partition("=")
    key = key.strip().replace("-", "_")
    if not separator or not key:
        raise ScenarioError(f"invalid --set: {text!r} (expected KEY=VALUE, e.g. nesterov=true)")
    try:
        return key, parse_value(value)
    except ScenarioError:
        raise ScenarioError(f"invalid --set value for {key}: {value!r} (expected "
                            f"{SETTING_VALUES})") from None


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    """Build the scenario the options describe; raise ScenarioError on an invalid value."""
    scenario = source_scenario(args)
    if _option(args, "optimizer") is not None:
        scenario = scenario.with_optimizer(args.optimizer.strip().lower())
    changes: dict[str, Any] = {"hyperparameters": _hyperparameters(args, scenario)}
    for field in ("reference", "dtype", "device"):
        if _option(args, field) is not None:
            changes[field] = getattr(args, field)
    if args.rtol is not None or args.atol is not None:
        base = Tolerance.for_dtype(DTYPES.get(changes.get("dtype", scenario.dtype),
                                              DTYPES["float32"]))
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
                            "or sys.path; it gets the hyper-parameters set here, and those of "
                            "the scenario that its constructor takes")
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

    changes: dict[str, Any] = {}
    if optimizer_class is not None:
        # Importing here names the flag in errors; the build finds the module imported.
        loaded = load_optimizer_class(optimizer_class, _search_folders(scenario),
                                      key="--optimizer-class")
        changes["optimizer_class"] = optimizer_class
        # The preset's or file's values suit its own optimizer, so pass on only those that
        # the class takes: Adam's betas must not reach an SGD subclass.
        keys = constructor_keys(loaded)
        changes["hyperparameters"] = {key: value for key, value in
                                      scenario.hyperparameters.items()
                                      if keys is None or key in keys}
    if reference_rule is not None:
        changes["reference_rule"] = reference_rule
    return dataclasses.replace(scenario, **changes)


def _search_folders(scenario: Scenario) -> list[Path]:
    return [Path(scenario.source).resolve().parent] if scenario.source else []


def _option(args: argparse.Namespace, name: str, default: Any = None) -> Any:
    # Commands that build their own parser may leave out some of these options.
    return getattr(args, name, default)


def _hyperparameters(args: argparse.Namespace, scenario: Scenario) -> dict[str, Any]:
    flags = {key: _option(args, key) for key in ("lr", "eps", "weight_decay", "momentum")}
    if _option(args, "betas") is not None:
        try:
            flags["betas"] = parse_value(args.betas)
        except ScenarioError:
            raise ScenarioError(f"invalid --betas: {args.betas!r} (expected two numbers "
                                "separated by a comma, e.g. 0.9,0.999)") from None
    # Each value set on the command line, with the option and text that set it.
    given = {key: (value, f"--{key.replace('_', '-')}", str(_option(args, key)))
             for key, value in flags.items() if value is not None}
    for text in _option(args, "settings", []):
        key, value = parse_setting(text)
        given[key] = (value, "--set", text)
    _check_own_class_keys(scenario, given)
    return {**scenario.hyperparameters, **{key: value for key, (value, *_) in given.items()}}


def _check_own_class_keys(scenario: Scenario, given: dict[str, tuple[Any, str, str]]) -> None:
    """Raise ScenarioError, naming the option, for a value set on the command line that the
    scenario's own optimizer class does not take."""
    if scenario.optimizer_class is None or not given:
        return
    try:
        optimizer_class = load_optimizer_class(scenario.optimizer_class,
                                               _search_folders(scenario))
    except ScenarioError:
        return  # The build reports a class that does not load, naming the file's key.
    keys = constructor_keys(optimizer_class)
    for key, (_, option, text) in given.items():
        if keys is not None and key not in keys:
            raise ScenarioError(f"invalid {option}: {text!r} ({optimizer_class.__name__} "
                                f"takes no {key!r}; it accepts "
                                f"{', '.join(keys) or 'no hyper-parameters'})")
