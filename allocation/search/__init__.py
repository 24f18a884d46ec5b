"""The search: its time (``budget``), the state every stage shares (``state``: the model,
the plan so far, the two CP-SAT searches), the greedy start and top-up (``greedy``), and
the stages in order: level 1 (``level1``), fairness and the fixed-set km/fit stage
(``later``, ``fixedset``)."""

from .budget import Budget, plan_margin
from .fixedset import FixedSetInput, FixedSetResult, settle_fixed_set
from .greedy import Ledger, greedy
from .later import fairness_stage, fixed_set_stage
from .level1 import Level1
from .state import Search, StopAt, build_cp_model

__all__ = [
    "Budget",
    "FixedSetInput",
    "FixedSetResult",
    "Ledger",
    "Level1",
    "Search",
    "StopAt",
    "build_cp_model",
    "fairness_stage",
    "fixed_set_stage",
    "greedy",
    "plan_margin",
    "settle_fixed_set",
]
