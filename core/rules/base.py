"""The reference-rule interface: named terms in order, new state, parameter after."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from .limits import Limit

FLAVOURS = ("torch", "textbook")
"""Reference flavours: `torch` follows torch's arithmetic order, `textbook` the paper's."""


@dataclass(frozen=True)
class Term:
    """One intermediate value of an update rule, in the order the formula applies it."""

    name: str
    """Identifier used in JSON and code, e.g. `m_hat`."""
    symbol: str
    """How the UI writes it, e.g. `m̂`."""
    formula: str
    """The formula that produced it, in terms of earlier symbols."""
    value: torch.Tensor
    """Its value: a tensor shaped like the parameter, or a 0-d tensor for scalars."""


class DerivedTerm(Term):
    """A term computed from tensors the rule keeps anyway, recomputed on each read of `value`.

    A record then holds the operands, which it shares with other terms and the state, instead
    of one more tensor of the parameter's size; each read computes the same bits. A rule uses
    it for terms that nothing else it computes depends on. The operands are real, as the
    terms in records are (complex parameters viewed as pairs of real numbers).
    """

    TENSOR_FIELDS = ("operands",)
    """What holds this term's tensors, for memory accounting: not `value`, made on each read."""

    def __init__(self, name: str, symbol: str, formula: str,
                 operation: Callable[..., torch.Tensor], operands: tuple[Any, ...]) -> None:
        for field, value in (("name", name), ("symbol", symbol), ("formula", formula),
                             ("operation", operation), ("operands", operands)):
            object.__setattr__(self, field, value)

    @property
    def value(self) -> torch.Tensor:  # type: ignore[override]
        """The term's value: `operation(*operands)`."""
        return self.operation(*self.operands)


@dataclass(frozen=True)
class Derived:
    """A tensor computed on each read from tensors kept anyway: `operation(*operands)`."""

    operation: Callable[..., torch.Tensor]
    """A module-level function or torch operation, so that holders stay picklable."""
    operands: tuple[Any, ...]
    """Its arguments: tensors that are kept anyway, and numbers."""

    TENSOR_FIELDS = ("operands",)
    """What holds this value's tensors, for memory accounting."""

    def compute(self) -> torch.Tensor:
        """Return `operation(*operands)`, the same bits on every call."""
        return self.operation(*self.operands)


class DerivedField:
    """A frozen dataclass field that holds a tensor, or a Derived that computes it on read.

    Reading the field returns the tensor either way, computed anew from a Derived on each
    read; `stored(instance)` returns what the field holds. The field's default is None.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.stored_name = f"_{name}"

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return None
        value = instance.__dict__.get(self.stored_name)
        return value.compute() if isinstance(value, Derived) else value

    def __set__(self, instance: Any, value: Any) -> None:
        # Frozen dataclasses set fields with object.__setattr__, which calls this.
        instance.__dict__[self.stored_name] = value

    def stored(self, instance: Any) -> Any:
        """Return what the field holds in `instance`: a tensor, a Derived or None."""
        return instance.__dict__.get(self.stored_name)


def stored(instance: Any, name: str) -> Any:
    """Return what the DerivedField `name` of `instance` holds: a tensor, a Derived or None."""
    return inspect.getattr_static(type(instance), name).stored(instance)


@dataclass(frozen=True)
class RuleOutput:
    """What a rule computes for one parameter on one step."""

    terms: tuple[Term, ...]
    """Named intermediate values in the order the formula applies them."""
    state: dict[str, torch.Tensor]
    """The rule's state after the step, under torch's state keys."""
    param: torch.Tensor
    """The parameter after the step."""
    update: torch.Tensor = DerivedField()  # type: ignore[assignment]
    """The update the rule applies: `param_after - param_before` as the formula states it.
    A rule may pass a Derived, so that the update is computed only when read."""


Hyperparameters = dict[str, Any]


class MissingHyperparameterError(ValueError):
    """A param group lacks a key that the rule reads and the torch optimizer has no default for."""


@functools.cache
def constructor_defaults(optimizer_class: type[torch.optim.Optimizer]) -> dict[str, Any]:
    """Return the keyword arguments of the class's constructor that have a default."""
    parameters = inspect.signature(optimizer_class.__init__).parameters
    return {name: parameter.default for name, parameter in parameters.items()
            if parameter.default is not inspect.Parameter.empty}


class Rule:
    """A reference implementation of one optimizer's update for a single parameter.

    Subclasses implement `initial_state` and `step` from the published algorithm. Inputs are
    never modified: `step` returns a new state. A complex parameter, its gradient and its
    state arrive complex, as torch keeps them. A rule views them as pairs of real numbers at
    the point where torch does, because complex and real arithmetic round differently, and
    returns its state in the form it received.
    """

    name: ClassVar[str]
    """Short name, e.g. `adam`."""
    title: ClassVar[str]
    """Display name, e.g. `Adam`."""
    optimizer_class: ClassVar[type[torch.optim.Optimizer]]
    """The torch optimizer this rule describes."""
    hyperparameters: ClassVar[tuple[str, ...]]
    """The param-group keys the rule reads, in display order."""
    panels: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = ()
    """Panels the UI shows for this rule: (title, term names) pairs, e.g. Adam's
    `("Moments", ("m", "v"))`. Terms in no panel are shown under "Other terms"."""
    limits: ClassVar[Mapping[str, Limit]] = {}
    """Every keyword the torch optimizer's constructor takes, with its allowed values."""

    def __init__(self, flavour: str = "torch") -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"invalid reference flavour: {flavour!r} (expected one of "
                             f"{', '.join(FLAVOURS)})")
        self.flavour = flavour

    @classmethod
    def check_hyperparameters(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """Return `values` normalised (ints to floats), or raise ValueError naming the first
        keyword the optimizer does not take or the first value outside its range."""
        checked = {}
        for key, value in values.items():
            if key not in cls.limits:
                raise ValueError(f"invalid {cls.title} hyper-parameter: {key!r} (expected one of "
                                 f"{', '.join(cls.limits)})")
            checked[key] = cls.limits[key].check(f"{cls.title} {key}", value)
        cls.check_combination(checked)
        return checked

    @classmethod
    def complete(cls, group: Mapping[str, Any]) -> Hyperparameters:
        """Return `group` with torch's default for each key it lacks.

        torch fills every param group from the constructor's arguments, so a group of a torch
        optimizer has every key. One's own optimizer may leave optional keys out, such as an
        SGD without `dampening`. The rule then reads the default of `optimizer_class`'s
        constructor, as torch would. Raise MissingHyperparameterError for a key in
        `hyperparameters` that the group lacks and the constructor gives no default.
        """
        defaults = constructor_defaults(cls.optimizer_class)
        for key in cls.hyperparameters:
            if key not in group and key not in defaults:
                raise MissingHyperparameterError(
                    f"missing hyper-parameter {key!r} (the {cls.title} rule reads it and "
                    f"{cls.optimizer_class.__name__} has no default for it; expected it in "
                    f"every param group)")
        if all(key in group for key in defaults):
            return group if isinstance(group, dict) else dict(group)
        return {**defaults, **group}

    @classmethod
    def check_combination(cls, values: Mapping[str, Any]) -> None:
        """Raise ValueError if hyper-parameters that are valid alone conflict together."""
        if values.get("fused") and values.get("foreach"):
            raise ValueError("invalid fused=True with foreach=True (choose at most one)")

    def initial_state(self, param: torch.Tensor, group: Hyperparameters) -> dict[str, torch.Tensor]:
        """Return the state torch creates before a parameter's first step. `group` may lack
        optional keys, so an implementation that reads one calls `complete` first."""
        raise NotImplementedError

    def run(
        self,
        param: torch.Tensor,
        grad: torch.Tensor,
        state: dict[str, torch.Tensor],
        group: Hyperparameters,
    ) -> RuleOutput:
        """Run `step` in the precision the flavour calls for.

        The torch flavour computes in torch's dtypes. The textbook flavour computes the
        formula in float64 (complex128) and rounds the parameter and state back to torch's
        dtypes. It so measures torch against the formula itself, not against a second
        float16 or bfloat16 rounding of it.

        NOTE: in float16 and bfloat16, torch's accumulators round at every step (β2·v can
        round back to v), so a textbook state carried from step 1 drifts from torch's.
        """
        group = self.complete(group)
        if self.flavour != "textbook":
            return self.step(param, grad, state, group)
        output = self.step(_widen(param), _widen(grad),
                           {key: _widen(value) for key, value in state.items()}, group)
        dtypes = {key: value.dtype for key, value in state.items()}
        new_state = {key: value.to(dtypes.get(key, param.dtype))
                     for key, value in output.state.items()}
        after = output.param.to(param.dtype)
        return RuleOutput(output.terms, new_state, after, after - param)

    def step(
        self,
        param: torch.Tensor,
        grad: torch.Tensor,
        state: dict[str, torch.Tensor],
        group: Hyperparameters,
    ) -> RuleOutput:
        """Compute one step for one parameter from its state before the step. `run` passes
        a `group` that `complete` filled in; a caller of `step` itself passes a complete one."""
        raise NotImplementedError


IMPLEMENTATIONS = ("single", "foreach", "fused")
"""torch's implementations of an optimizer step: a loop over tensors, foreach kernels, or a
fused kernel."""

FOREACH_DEVICES = ("cuda", "xpu", "mtia")
"""Device types on which torch picks the foreach implementation when `foreach` is None."""


def implementation(param: torch.Tensor, group: Hyperparameters) -> str:
    """Return which of IMPLEMENTATIONS torch runs for `param` under `group`'s flags
    (torch/optim/optimizer.py, `_default_to_fused_or_foreach`, torch 2.13).

    NOTE: the rules follow the foreach and fused arithmetic of the CPU kernels. CUDA's
    kernels round differently and were not measured, so there the checks rely on tolerance.
    """
    if group.get("fused"):
        return "fused"
    foreach = group.get("foreach")
    if foreach is None:
        foreach = not group.get("differentiable", False) and param.device.type in FOREACH_DEVICES
    return "foreach" if foreach else "single"


def real(tensor: torch.Tensor) -> torch.Tensor:
    """Return a complex tensor viewed as pairs of real numbers; a real one unchanged."""
    return torch.view_as_real(tensor) if tensor.is_complex() else tensor


def restore(tensor: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Return `tensor`, computed on real views of `like`'s shape, as complex again where
    `like` is complex; other tensors (a 0-d `step`, say) unchanged."""
    if like.is_complex() and not tensor.is_complex() and tensor.dim() == like.dim() + 1:
        return torch.view_as_complex(tensor.contiguous())
    return tensor


def scale(tensor: torch.Tensor, factor: Any, foreach: bool) -> torch.Tensor:
    """Return tensor·factor as torch computes it.

    torch's in-place foreach multiply (`_foreach_mul_`) rounds a number factor to the
    tensor's dtype first (CPU, torch 2.13), which changes float16 and bfloat16 results. The
    out-of-place `_foreach_mul` and the single-tensor path multiply by the unrounded factor,
    so pass `foreach=False` for those.
    """
    if foreach and not isinstance(factor, torch.Tensor):
        factor = torch.tensor(factor, dtype=tensor.dtype).item()
    return tensor.mul(factor)


def step_dtype(group: Hyperparameters | None = None) -> torch.dtype:
    """Return the dtype torch gives the `step` counter: float32 when fused, else float64
    only where the default dtype is float64 (torch/optim/optimizer.py, torch 2.13)."""
    if group is not None and group.get("fused"):
        return torch.float32
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def step_counter(param: torch.Tensor, group: Hyperparameters) -> torch.Tensor:
    """Return a new `step` counter at 0, where torch keeps it: on the parameter's device when
    fused or capturable, on the CPU otherwise."""
    on_device = group.get("fused") or group.get("capturable")
    return torch.zeros((), dtype=step_dtype(group), device=param.device if on_device else "cpu")


def torch_scalar(value: Any) -> Any:
    """Return a hyper-parameter as torch's step reads it: a 1-element tensor squeezed to 0-d,
    anything else unchanged (so a tensor `lr` keeps its dtype in the arithmetic)."""
    if isinstance(value, torch.Tensor) and value.dim() != 0:
        return value.squeeze()
    return value


def signed_gradient(grad: torch.Tensor, group: Hyperparameters) -> tuple[torch.Tensor, Term]:
    """Return the gradient the update follows, negated for `maximize`, and its term."""
    if group.get("maximize", False):
        g = -grad
        return g, Term("g", "g", "−∇L (maximize)", g)
    return grad, Term("g", "g", "∇L", grad)


def l2_decay(g: torch.Tensor, param: torch.Tensor, weight_decay: Any,
             terms: list[Term]) -> torch.Tensor:
    """Return g + λθ (L2 weight decay folded into the gradient), adding its term when λ ≠ 0."""
    if weight_decay == 0:
        return g
    g = g.add(param, alpha=weight_decay)
    terms.append(Term("g_decayed", "g'", "g + λ·θ", g))
    return g


def apply_weight_decay(param: torch.Tensor, g: torch.Tensor, lr: Any, weight_decay: Any,
                       decoupled: bool, foreach: bool,
                       terms: list[Term]) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (θ, g) after weight decay: θ(1 − γλ) when decoupled, else g + λθ (L2)."""
    if weight_decay != 0 and decoupled:
        theta = scale(param, 1 - lr * weight_decay, foreach)
        terms.append(Term("decayed", "θ'", "θ·(1 − γλ)", theta))
        return theta, g
    return param, l2_decay(g, param, weight_decay, terms)


def _widen(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.is_complex():
        return tensor.to(torch.complex128)
    return tensor.to(torch.float64) if tensor.is_floating_point() else tensor


def scalar(value: Any) -> float:
    """Return a hyper-parameter as a Python float, whether given as a number or a tensor."""
    return float(value.item()) if isinstance(value, torch.Tensor) else float(value)


def as_tensor(value: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Return a scalar as a 0-d tensor on the device of `like`, for display as a term."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone().to(like.device)
    return torch.tensor(value, dtype=torch.float64, device=like.device)
