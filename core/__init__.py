"""The optimstep engine: scenarios, reference rules, the Stepper and its records (torch only)."""

from .checks import Check, Tolerance, compare, ulp_distance
from .errors import UserCodeError
from .history import HyperparameterEdit
from .presets import DEFAULT_PRESET, PRESETS, preset
from .record import NoMoreSteps, ParamRecord, StepRecord
from .rules import FLAVOURS, RULES, Rule, RuleOutput, Term, rule_for
from .scenario import DTYPES, Scenario, ScenarioError
from .stepper import Stepper

__all__ = [
    "Check", "DEFAULT_PRESET", "DTYPES", "FLAVOURS", "NoMoreSteps", "PRESETS", "ParamRecord", "RULES", "Rule",
    "HyperparameterEdit",
    "RuleOutput", "Scenario", "ScenarioError", "StepRecord", "Stepper", "Term", "Tolerance",
    "compare", "preset", "rule_for", "ulp_distance",
    "UserCodeError",
]
