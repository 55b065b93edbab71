"""One's own optimizer class, loaded by import path and checked against a chosen rule.

Importing the module a user names here is the only user code optimstep executes.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from .rules import RULES, Rule, rule_for
from .rules.base import MissingHyperparameterError
from .scenario import ScenarioError

logger = logging.getLogger(__name__)

CLASS_PATH_FORM = "'package.module:Class'"
"""Form of an optimizer class path, for error messages."""


def check_class_path(path: Any, key: str = "optimizer_class") -> tuple[str, str]:
    """Split `package.module:Class` into module and class names, or raise ScenarioError."""
    if not isinstance(path, str) or path.count(":") != 1:
        raise ScenarioError(f"invalid {key}: {path!r} (expected {CLASS_PATH_FORM}, with one "
                            f"colon between the module and the class)")
    module, name = path.split(":")
    if not all(part.isidentifier() for part in module.split(".")) or not name.isidentifier():
        raise ScenarioError(f"invalid {key}: {path!r} (expected {CLASS_PATH_FORM}, where "
                            f"each part is a Python identifier)")
    return module, name


def load_optimizer_class(path: str, search: Iterable[Path] = (),
                         key: str = "optimizer_class") -> type[torch.optim.Optimizer]:
    """Import `package.module:Class` and return the class, a torch.optim.Optimizer subclass.

    The module is looked up in the `search` folders, then the current directory, then
    sys.path, as `python -m` would. Every failure raises a one-line ScenarioError.
    """
    module_name, class_name = check_class_path(path, key)
    module = _import(module_name, path, search, key)

    found = getattr(module, class_name, None)
    if found is None:
        candidates = ", ".join(_optimizer_names(module)) or "none"
        raise ScenarioError(f"invalid {key}: {path!r} (module {module_name!r} has no "
                            f"{class_name!r}; optimizer classes in it: {candidates})")
    if not (isinstance(found, type) and issubclass(found, torch.optim.Optimizer)):
        raise ScenarioError(f"invalid {key}: {path!r} ({class_name} is "
                            f"{_describe(found)}; expected a subclass of "
                            f"torch.optim.Optimizer)")
    logger.info("loaded optimizer class %s from %s", class_name, module.__file__)
    return found


def _import(module_name: str, path: str, search: Iterable[Path], key: str) -> Any:
    try:
        with _search_path([*search, Path(os.getcwd())]):
            return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and (module_name == error.name
                           or module_name.startswith(error.name + ".")):
            raise ScenarioError(f"invalid {key}: {path!r} (module {module_name!r} not found; "
                                f"expected a module importable from the current directory "
                                f"or sys.path)") from None
        raise ScenarioError(f"invalid {key}: {path!r} (importing {module_name!r} failed: "
                            f"{error})") from None
    except Exception as error:  # noqa: BLE001 - any error of the user's module is reported
        message = " ".join(str(error).split())
        raise ScenarioError(f"invalid {key}: {path!r} (importing {module_name!r} raised "
                            f"{type(error).__name__}: {message})") from None


@contextlib.contextmanager
def _search_path(folders: list[Path]) -> Iterator[None]:
    added = [str(folder) for folder in folders if str(folder) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for folder in added:
            sys.path.remove(folder)


def _optimizer_names(module: Any) -> list[str]:
    return sorted(name for name, value in vars(module).items()
                  if isinstance(value, type) and issubclass(value, torch.optim.Optimizer)
                  and value.__module__ == module.__name__)


def _describe(value: Any) -> str:
    if isinstance(value, type):
        return "a class that does not subclass torch.optim.Optimizer"
    return f"a {type(value).__name__}, not a class"


def constructor_keys(optimizer_class: type[torch.optim.Optimizer]) -> tuple[str, ...] | None:
    """Return the keyword arguments the class accepts after `params`, or None if any are."""
    try:
        parameters = inspect.signature(optimizer_class.__init__).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return None
    return tuple(name for name in list(parameters)[2:]
                 if parameters[name].kind is not inspect.Parameter.VAR_POSITIONAL)


def make_custom_optimizer(optimizer_class: type[torch.optim.Optimizer], params: Any,
                          hyperparameters: Mapping[str, Any]) -> torch.optim.Optimizer:
    """Construct one's own optimizer; its errors become one-line ScenarioErrors."""
    name = optimizer_class.__name__
    keys = constructor_keys(optimizer_class)
    for key, value in hyperparameters.items():
        if keys is not None and key not in keys:
            raise ScenarioError(f"unknown key optimizer.{key} = {value!r} ({name} accepts "
                                f"{', '.join(keys) or 'no hyper-parameters'})")
    try:
        return optimizer_class(params, **dict(hyperparameters))
    except Exception as error:  # noqa: BLE001 - the user's constructor may raise anything
        message = " ".join(str(error).split())
        raise ScenarioError(f"invalid hyper-parameters for {name}: {message}") from None


def check_param_groups(optimizer: torch.optim.Optimizer, rule: Rule) -> None:
    """Raise ScenarioError for the first param group that lacks a key which `rule` reads
    and its torch optimizer gives no default. The rule fills in keys that have one."""
    for index, group in enumerate(optimizer.param_groups):
        try:
            rule.complete(group)
        except MissingHyperparameterError as error:
            raise ScenarioError(f"invalid param group {index} of "
                                f"{type(optimizer).__name__}: {error}") from None


def reference_rule(optimizer_class: type[torch.optim.Optimizer], rule_name: str | None,
                   flavour: str) -> Rule:
    """Return the rule named `rule_name`, or the rule of the class's nearest torch base."""
    if rule_name is not None:
        return RULES[rule_name](flavour)
    try:
        return rule_for(optimizer_class, flavour)
    except ValueError:
        raise ScenarioError(
            f"missing reference rule for {optimizer_class.__name__}: it subclasses no torch "
            f"optimizer that has one, so name the rule to check it against with "
            f"--reference-rule or reference_rule in the scenario file (one of "
            f"{', '.join(RULES)})") from None
