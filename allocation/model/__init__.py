"""The model as data: candidates (``candidates``), constraint rows (``rows``), objective
coefficients (``objectives``). No solver here: the search (``allocation.search``) and the
bounds (``allocation.bounds``) read these."""

from .candidates import ANY_ROOM, Candidates, Combo, FitFilter, Prepared, prepare
from .objectives import (
    KM_SCALE,
    MAX_WAIT_MIN,
    Objectives,
    build_objectives,
    tier_weights,
    wait_minutes,
)
from .rows import Row, RowMatrix, build_rows, capacity_rows, household_rows, keep_apart_rows

__all__ = [
    "ANY_ROOM",
    "KM_SCALE",
    "MAX_WAIT_MIN",
    "Candidates",
    "Combo",
    "FitFilter",
    "Objectives",
    "Prepared",
    "Row",
    "RowMatrix",
    "build_objectives",
    "build_rows",
    "capacity_rows",
    "household_rows",
    "keep_apart_rows",
    "prepare",
    "tier_weights",
    "wait_minutes",
]
