"""Abri's allocation engine: problem in, plan out (``shared/spec/allocation.md``).

Pure: Pydantic models, numpy and OR-Tools only; nothing from ``app/``.
"""

from .check import check, check_assignment
from .models import (
    PLAN_FORMAT,
    PRIORITIES,
    PROBLEM_FORMAT,
    Assignment,
    AvoidZone,
    Bound,
    Household,
    KeepApart,
    Member,
    Needs,
    Objective,
    Plan,
    Point,
    Problem,
    Room,
    Settings,
    Shelter,
    StageRecord,
    Stats,
    Unplaced,
    describe_validation_error,
)
from .options import HouseholdOptions, ShelterOption, household_options
from .params import DEFAULT_PARAMS, SearchParams
from .solver import solve

__all__ = [
    "DEFAULT_PARAMS",
    "PLAN_FORMAT",
    "PRIORITIES",
    "PROBLEM_FORMAT",
    "Assignment",
    "AvoidZone",
    "Bound",
    "Household",
    "HouseholdOptions",
    "KeepApart",
    "Member",
    "Needs",
    "Objective",
    "Plan",
    "Point",
    "Problem",
    "Room",
    "SearchParams",
    "Settings",
    "Shelter",
    "ShelterOption",
    "StageRecord",
    "Stats",
    "Unplaced",
    "check",
    "check_assignment",
    "describe_validation_error",
    "household_options",
    "solve",
]
