"""The app's widgets, one module each; every panel renders StepRecords only."""

from .base import HINT, RecordPanel, Start
from .gradients import GradientsPanel
from .header import StatusHeader, describe_optimizer
from .log import AssertionLog
from .parameters import ParametersPanel
from .terms import OTHER_TITLE, TermsPanel
from .updates import UpdatesPanel

__all__ = [
    "AssertionLog", "GradientsPanel", "HINT", "OTHER_TITLE", "ParametersPanel", "RecordPanel",
    "Start", "StatusHeader", "TermsPanel", "UpdatesPanel", "describe_optimizer",
]
