"""Validate a scenario's model, data, optimizer and device fields, and build its live objects."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from . import custom, models
from .data import make_batches
from .rules import RULES, Rule, rule_for
from .scenario import Scenario, ScenarioError, _require

Batches = tuple[tuple[torch.Tensor, torch.Tensor], ...]


def validate_sources(scenario: Scenario) -> None:
    """Raise ScenarioError unless the model, data, optimizer and device fields are valid."""
    models.model_options(scenario.model, scenario.model_options)
    needed_loss = models.MODELS[scenario.model].loss
    _require(needed_loss is None or scenario.loss == needed_loss, "loss", scenario.loss,
             f"{needed_loss!r}, the only loss the {scenario.model} model works with")
    _require(_is_int(scenario.in_features, 1), "in_features", scenario.in_features,
             "an integer >= 1")
    _require(_is_int(scenario.out_features, 1), "out_features", scenario.out_features,
             "an integer >= 1")
    _require(scenario.data is None or hasattr(scenario.data, "load"), "data", scenario.data,
             "None or a data source: InlineData, TensorFile, CsvFile or Synthetic")
    _require(scenario.batch_size is None or _is_int(scenario.batch_size, 1), "batch_size",
             scenario.batch_size, "None or an integer >= 1")
    _require(isinstance(scenario.shuffle, bool), "shuffle", scenario.shuffle, "true or false")
    _require(scenario.data is not None or scenario.batch_size is None, "batch_size",
             scenario.batch_size, "None unless data is set")
    _require(scenario.data is not None or not scenario.shuffle, "shuffle", scenario.shuffle,
             "false unless data is set")
    for index, group in enumerate(scenario.param_groups):
        names = group.get("params") if isinstance(group, Mapping) else None
        _require(isinstance(names, (list, tuple)) and len(names) >= 1
                 and all(isinstance(name, str) for name in names),
                 f"param_groups[{index}].params", names, "a list of parameter names")
    if scenario.optimizer_class is not None:
        custom.check_class_path(scenario.optimizer_class)
    _require(scenario.reference_rule is None or scenario.reference_rule in RULES,
             "reference_rule", scenario.reference_rule, f"one of {', '.join(sorted(RULES))}")
    check_device(scenario.device)


def check_device(name: Any) -> None:
    """Raise ScenarioError unless `name` is a torch device available on this machine."""
    allowed = "cpu, cuda, cuda:N or mps"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ScenarioError(f"invalid device: {name!r} (expected {allowed})") from None

    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        _require(count > 0, "device", name,
                 f"cpu: this torch {torch.__version__} finds no CUDA device on this machine")
        _require(device.index is None or device.index < count, "device", name,
                 f"cpu or cuda:0 to cuda:{count - 1}")
    elif device.type == "mps":
        _require(torch.backends.mps.is_available(), "device", name,
                 "cpu: MPS is not available on this machine")
    else:
        _require(device.type == "cpu", "device", name, allowed)


def check_buildable(scenario: Scenario) -> Rule:
    """Raise the ScenarioErrors a build would raise, short of constructing the optimizer;
    return the rule the build will check the optimizer against.

    The first torch optimizer constructed in a process imports torch._dynamo, because
    torch 2.13 wraps `Optimizer.add_param_group` in `torch._disable_dynamo`. That took
    1.0-1.3 s on a shared 2-core AMD EPYC, so an app can call this, draw, and build
    afterwards. This builds the model and batches once and drops them. Only the
    optimizer's own checks (torch's, or those of one's own class's constructor) are left
    to the build.
    """
    try:
        model = build_model(scenario)
        build_batches(scenario)
        if scenario.param_groups:
            param_groups(scenario, model)
        if scenario.reference_rule is not None:
            return RULES[scenario.reference_rule](scenario.reference)
        if scenario.optimizer_class is None:
            # What the Stepper picks for the optimizer that make_optimizer constructs.
            return rule_for(scenario.rule.optimizer_class, scenario.reference)
        folders = [Path(scenario.source).resolve().parent] if scenario.source else []
        optimizer_class = custom.load_optimizer_class(scenario.optimizer_class, folders)
        return custom.reference_rule(optimizer_class, scenario.reference_rule,
                                     scenario.reference)
    except ScenarioError as error:
        raise located(scenario, error) from None


def located(scenario: Scenario, error: ScenarioError) -> ScenarioError:
    """Return the error with the scenario's file in front, if it came from a file."""
    if scenario.source is None or str(error).startswith(f"{scenario.source}: "):
        return error
    return ScenarioError(f"{scenario.source}: {error}")


def build_model(scenario: Scenario) -> torch.nn.Module:
    """Build the model, set the scenario's initial parameters, and move it to its device."""
    model = models.build_model(scenario.model, scenario.in_features, scenario.out_features,
                               scenario.model_options).to(scenario.torch_dtype)
    own = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in scenario.parameters.items():
            _require(name in own, "parameters", name, f"one of {', '.join(own)}")
            try:
                tensor = torch.as_tensor(value, dtype=scenario.torch_dtype)
            except (TypeError, ValueError, RuntimeError):
                tensor = None
            _require(tensor is not None and tensor.shape == own[name].shape,
                     f"parameters.{name}", value,
                     f"a number or nested list of shape {tuple(own[name].shape)}")
            own[name].copy_(tensor)
    return model.to(scenario.device)


def build_batches(scenario: Scenario) -> Batches:
    """Return the scenario's batches as tensors of its dtype on its device."""
    if scenario.data is None:
        batches = tuple((torch.as_tensor(x, dtype=scenario.torch_dtype),
                         torch.as_tensor(y, dtype=scenario.torch_dtype))
                        for x, y in scenario.batches)
    else:
        inputs, targets = scenario.data.load(scenario.torch_dtype)
        batches = make_batches(inputs, targets, scenario.batch_size, scenario.shuffle,
                               scenario.seed)
    if models.MODELS[scenario.model].uses_features:
        for batch in batches:
            check_shapes(scenario, batch)
    return tuple((x.to(scenario.device), y.to(scenario.device)) for x, y in batches)


def check_shapes(scenario: Scenario, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    """Raise ScenarioError unless a batch fits the model's feature counts.

    Losses such as MSE broadcast targets of shape (n,) against outputs of shape (n, 1)
    into an (n, n) comparison with only a warning, so target shapes are checked too.
    """
    inputs, targets = batch
    features = inputs.shape[-1] if inputs.dim() else None
    _require(features == scenario.in_features, "model.in_features", scenario.in_features,
             f"{features}, the last dimension of the inputs, of shape {tuple(inputs.shape)}")
    expected = (*inputs.shape[:-1], scenario.out_features)
    if tuple(targets.shape) != expected:
        raise ScenarioError(f"invalid data: targets of shape {tuple(targets.shape)} (expected "
                            f"{expected}: {scenario.out_features} value(s) per sample, as "
                            f"model.out_features says)")


def build_optimizer(scenario: Scenario,
                    model: torch.nn.Module) -> tuple[torch.optim.Optimizer, Rule | None]:
    """Build the optimizer (named or one's own class) and the rule to check it against."""
    params = param_groups(scenario, model) if scenario.param_groups else model.parameters()
    if scenario.optimizer_class is None:
        rule = RULES[scenario.reference_rule](scenario.reference) \
            if scenario.reference_rule else None
        return scenario.make_optimizer(params), rule

    folders = [Path(scenario.source).resolve().parent] if scenario.source else []
    optimizer_class = custom.load_optimizer_class(scenario.optimizer_class, folders)
    optimizer = custom.make_custom_optimizer(optimizer_class, params, scenario.hyperparameters)
    rule = custom.reference_rule(optimizer_class, scenario.reference_rule, scenario.reference)
    custom.check_param_groups(optimizer, rule)
    return optimizer, rule


def param_groups(scenario: Scenario, model: torch.nn.Module) -> list[dict[str, Any]]:
    """Return torch param groups from the scenario's groups of parameter names.

    Parameters named in no group form one last group that takes the optimizer's
    defaults, the scenario's `hyperparameters`.
    """
    named = dict(model.named_parameters())
    groups: list[dict[str, Any]] = []
    grouped: set[str] = set()
    for index, group in enumerate(scenario.param_groups):
        key = f"param_groups[{index}].params"
        for name in group["params"]:
            _require(name in named, key, name, f"one of {', '.join(named)}")
            _require(name not in grouped, key, name, "a parameter in no earlier group")
            grouped.add(name)
        overrides = {k: v for k, v in group.items() if k != "params"}
        groups.append({**overrides, "params": [named[name] for name in group["params"]]})

    rest = [param for name, param in named.items() if name not in grouped]
    return groups + [{"params": rest}] if rest else groups


def _is_int(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum
