"""Step a distributed run (DDP, ZeRO, FSDP2) on local ranks and check every rank's update."""

from .errors import DistributedError, RankFailed, RankHung, StuckRank
from .launcher import BACKENDS, DistributedRun, RankPhase
from .results import DistributedStep, RankStep
from .scenarios import MODELS, ShardedScenario, mlp_scenario
from .strategies import STRATEGIES

__all__ = [
    "BACKENDS", "DistributedError", "DistributedRun", "DistributedStep", "MODELS", "RankFailed",
    "RankHung", "RankPhase", "RankStep", "STRATEGIES", "ShardedScenario", "StuckRank",
    "mlp_scenario",
]
