"""The plan: concrete rooms for the chosen candidates (``rooms``), why the others are
unplaced (``explain``), and the plan itself with its objective values (``build``)."""

from .build import build_plan
from .explain import capacity_detail, keep_apart_partners, unplaced_reason
from .rooms import assign_rooms

__all__ = [
    "assign_rooms",
    "build_plan",
    "capacity_detail",
    "keep_apart_partners",
    "unplaced_reason",
]
