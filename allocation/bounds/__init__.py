"""Bounds on level 1: the LP relaxation per tier (``lp``), the Lagrangian pricing of a
pruned model's duals (``lagrange``), the split of a weighted bound (``weighted``), and the
per-tier bookkeeping of what is proven (``tiers``)."""

from .lagrange import floor_bound, lagrangian_bound
from .lp import FLOOR_TOL, TierLP
from .tiers import TierBounds, model_lagrangian_bound
from .weighted import split_bound

__all__ = [
    "FLOOR_TOL",
    "TierBounds",
    "TierLP",
    "floor_bound",
    "lagrangian_bound",
    "model_lagrangian_bound",
    "split_bound",
]
