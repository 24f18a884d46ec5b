"""An independent level-1 oracle: our own MIP of the spec's rules, solved with HiGHS.

Written from ``shared/spec/allocation.md`` (rules 1–8 and objective level 1) without the
engine's modelling code: only ``allocation.models`` (to parse the JSON) and
``allocation.geo.haversine_km`` (the spec's distance) are imported, so a modelling bug in the
engine does not repeat itself here.

Formulation (one *candidate* per household and shelter that passes rules 4–7):

- ``p[h,s]`` (binary): household h placed in private rooms of shelter s;
  ``x[h,s,t]`` (integer): how many rooms of *room type* t it uses there. Identical private
  rooms of a shelter (same beds, cribs, wheelchair flag) are one type with a count, which is
  exact: which of two identical rooms a household gets changes nothing;
- ``q[h,s,g]`` (binary): a single adult in the shared rooms of s of group g (same sex and
  wheelchair flag; one person per household, so a group's free beds are one capacity);
- rule 1: each household's candidates sum to at most 1;
- rule 2: ``p ≤ Σt x ≤ R·p``, ``Σ min(beds, n≥3)·x ≥ n≥3·p``, ``Σ min(beds+cribs, n)·x ≥ n·p``
  (coefficients capped at the need: same integer points, a tighter LP); ``Σh x ≤ count``;
- rule 3: ``Σh q ≤ free beds of the group``;
- rule 8: for a pair (a, b, km) and each shelter s of a, ``place[a,s] + Σ place[b,s'] ≤ 1``
  over the shelters s' of b that are s itself or closer than km to s;
- ``Shelter.margin_km`` (an extension of the spec, see docs/engine.md): rules 6 and 8 add
  the shelters' margins to the km they require.

Level 1 is solved lexicographically: maximise the people of priority 4, pin that value, then
priority 3, and so on. Each stage runs to a proven optimum (absolute gap < 1 person, the
objective is a whole number) or reports that it could not within its time.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import highspy
import numpy as np

from allocation.geo import haversine_km
from allocation.models import ADULT_AGE, PRIORITIES, Household, Problem, Room, Shelter

# --- rules 4–7 for one household and one shelter --------------------------------------------


def shelter_admits(h: Household, s: Shelter, km: float) -> bool:
    """Rules 4 (shelter part), 5, 6 and 7, straight from the spec."""
    if s.id in h.excluded_shelters:
        return False
    if h.max_km is not None and km > h.max_km:
        return False
    for zone in h.avoid:  # margin_km: the shelter may be anywhere that far from (lat, lon)
        if haversine_km(s.lat, s.lon, zone.lat, zone.lon) < zone.km + s.margin_km:
            return False
    for m in h.members:
        if m.age >= ADULT_AGE:
            if (m.sex == "F" and not s.women) or (m.sex == "M" and not s.men):
                return False
        else:
            if not s.children:
                return False
            if m.sex == "M" and s.max_boy_age is not None and m.age > s.max_boy_age:
                return False
    needs = h.needs
    return not (
        (needs.dv_specialised and not s.dv_specialised)
        or (needs.secure and not s.secure)
        or (needs.pets and not s.pets)
        or (needs.wheelchair and not s.wheelchair)
    )


def room_admits(h: Household, room: Room) -> bool:
    """Room-level parts of rules 3 and 4 (shared rooms' sex, wheelchair rooms)."""
    if h.needs.wheelchair and not room.wheelchair:
        return False
    if room.shared:
        single_adult = len(h.members) == 1 and h.members[0].age >= ADULT_AGE
        return single_adult and h.members[0].sex == room.sex and room.beds > 0
    return room.beds + room.cribs > 0


# --- the night as candidates ----------------------------------------------------------------


@dataclass(frozen=True)
class RoomType:
    beds: int
    cribs: int
    count: int


@dataclass
class ShelterTypes:
    """A shelter's free rooms, aggregated: private room types and shared groups."""

    private: list[tuple[RoomType, bool]]  # (type, wheelchair)
    shared: list[tuple[str, bool, int]]  # (sex, wheelchair, free beds)


def shelter_types(s: Shelter) -> ShelterTypes:
    private: dict[tuple[int, int, bool], int] = defaultdict(int)
    shared: dict[tuple[str, bool], int] = defaultdict(int)
    for r in s.rooms:
        if r.shared:
            if r.beds > 0 and r.sex is not None:
                shared[(r.sex, r.wheelchair)] += r.beds
        elif r.beds + r.cribs > 0:
            private[(r.beds, r.cribs, r.wheelchair)] += 1
    return ShelterTypes(
        private=[(RoomType(b, c, n), w) for (b, c, w), n in sorted(private.items())],
        shared=[(sex, w, n) for (sex, w), n in sorted(shared.items())],
    )


def private_may_fit(h: Household, types: Sequence[RoomType], max_rooms: int) -> bool:
    """A necessary condition for rule 2 (the R largest rooms by each measure suffice)."""
    if not types:
        return False
    n3 = sum(1 for m in h.members if m.age >= 3)
    beds = sorted((t.beds for t in types for _ in range(min(t.count, max_rooms))), reverse=True)
    total = sorted(
        (t.beds + t.cribs for t in types for _ in range(min(t.count, max_rooms))), reverse=True
    )
    return sum(beds[:max_rooms]) >= n3 and sum(total[:max_rooms]) >= len(h.members)


# --- a small column/row builder over HiGHS --------------------------------------------------


@dataclass
class MipBuilder:
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    rows_lo: list[float] = field(default_factory=list)
    rows_hi: list[float] = field(default_factory=list)
    t_row: list[int] = field(default_factory=list)
    t_col: list[int] = field(default_factory=list)
    t_val: list[float] = field(default_factory=list)

    def var(self, upper: float, integer: bool = True) -> int:
        self.lower.append(0.0)
        self.upper.append(upper)
        self.integer.append(integer)
        return len(self.lower) - 1

    def row(self, terms: Iterable[tuple[int, float]], lo: float, hi: float) -> None:
        r = len(self.rows_lo)
        for col, val in terms:
            self.t_row.append(r)
            self.t_col.append(col)
            self.t_val.append(val)
        self.rows_lo.append(lo)
        self.rows_hi.append(hi)

    def highs(self, maximise: bool, relax: bool = False) -> highspy.Highs:
        lp = highspy.HighsLp()
        n, m = len(self.lower), len(self.rows_lo)
        lp.num_col_, lp.num_row_ = n, m
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = np.array(self.lower)
        lp.col_upper_ = np.array(self.upper)
        lp.row_lower_ = np.array(self.rows_lo)
        lp.row_upper_ = np.array(self.rows_hi)
        cols = np.array(self.t_col, dtype=np.int64)
        order = np.argsort(cols, kind="stable")
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.searchsorted(cols[order], np.arange(n + 1)).astype(np.int32)
        lp.a_matrix_.index_ = np.array(self.t_row, dtype=np.int32)[order]
        lp.a_matrix_.value_ = np.array(self.t_val)[order]
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
        lp.sense_ = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
        if not relax:
            lp.integrality_ = [
                highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                for i in self.integer
            ]
        h = highspy.Highs()
        h.setOptionValue("output_flag", bool(os.environ.get("ORACLE_LOG")))
        h.setOptionValue("threads", 1)
        h.setOptionValue("random_seed", 0)
        h.passModel(lp)
        return h


# --- the model of one night -----------------------------------------------------------------


@dataclass
class NightModel:
    """Candidates and rows of rules 1–8; ``place[h]`` lists (shelter index, column)."""

    problem: Problem
    mip: MipBuilder
    place: dict[int, list[tuple[int, int]]]
    km: dict[tuple[int, int], float]

    def people_terms(self, households: Iterable[int]) -> list[tuple[int, float]]:
        hh = self.problem.households
        return [(col, float(len(hh[i].members))) for i in households for _, col in self.place[i]]


def build_model(problem: Problem, households: dict[int, bool]) -> NightModel:
    """The night's rules as a MIP over ``households`` (index -> must be placed)."""
    mip = MipBuilder()
    types = [shelter_types(s) for s in problem.shelters]
    rmax = problem.settings.max_rooms_per_household
    place: dict[int, list[tuple[int, int]]] = defaultdict(list)
    km: dict[tuple[int, int], float] = {}
    rooms = RoomRows()
    for i in sorted(households):
        h = problem.households[i]
        for j, s in enumerate(problem.shelters):
            d = haversine_km(h.origin.lat, h.origin.lon, s.lat, s.lon)
            if not shelter_admits(h, s, d):
                continue
            cols = _private_candidate(mip, h, types[j], rmax, j, rooms)
            cols += _shared_candidates(mip, h, types[j], j, rooms)
            for col in cols:
                place[i].append((j, col))
                km[(i, col)] = d
    rooms.add_rows(mip, types, rmax)
    for i, cands in place.items():
        mip.row(((c, 1.0) for _, c in cands), 1.0 if households[i] else 0.0, 1)
    model = NightModel(problem, mip, place, km)
    _keep_apart_rows(model)
    return model


Profile = tuple[int, int, bool]  # (members aged 3+, members, needs a wheelchair room)
MAX_PATTERNS = 64  # above this many room combinations, model the rooms per household


@dataclass
class RoomRows:
    """Who uses which room type: the capacity rows, built once all candidates are known.

    Households placed privately in shelter j with the same profile share *patterns*
    (inclusion-minimal room combinations that fit the profile): an integer count per
    pattern, linked to the households' binaries. Where a profile has too many patterns
    (a shelter with many distinct rooms), each household gets its own room counts instead.
    """

    users: dict[tuple[int, int], list[tuple[int, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    shared: dict[tuple[int, int], list[int]] = field(default_factory=lambda: defaultdict(list))
    linked: dict[tuple[int, Profile], list[int]] = field(default_factory=lambda: defaultdict(list))
    patterns: dict[tuple[int, Profile], list[dict[int, int]] | None] = field(default_factory=dict)

    def add_rows(self, mip: MipBuilder, types: list[ShelterTypes], rmax: int) -> None:
        for (j, prof), ps in self.linked.items():
            pats = self.patterns[(j, prof)] or []
            us = []
            for pat in pats:
                cap = min(types[j].private[t][0].count // k for t, k in pat.items())
                u = mip.var(cap)
                us.append(u)
                for t, k in pat.items():
                    self.users[(j, t)].append((u, float(k)))
            mip.row([(u, 1.0) for u in us] + [(p, -1.0) for p in ps], 0, 0)
        for (j, t), terms in self.users.items():
            mip.row(terms, 0, types[j].private[t][0].count)
        for (j, g), cols in self.shared.items():
            mip.row(((c, 1.0) for c in cols), 0, types[j].shared[g][2])


def fits(combo: Sequence[RoomType], n3: int, n: int) -> bool:
    """Rule 2 for one set of private rooms."""
    return sum(t.beds for t in combo) >= n3 and sum(t.beds + t.cribs for t in combo) >= n


def minimal_patterns(
    usable: Sequence[tuple[int, RoomType]], n3: int, n: int, rmax: int, limit: int
) -> list[dict[int, int]] | None:
    """Inclusion-minimal multisets of at most ``rmax`` usable rooms that fit; None past limit."""
    found: list[dict[int, int]] = []

    def extend(start: int, chosen: list[int]) -> bool:
        combo = [usable[k][1] for k in chosen]
        if chosen and fits(combo, n3, n):
            if all(not fits(combo[:k] + combo[k + 1 :], n3, n) for k in range(len(combo))):
                pat: dict[int, int] = defaultdict(int)
                for k in chosen:
                    pat[usable[k][0]] += 1
                found.append(dict(pat))
            return len(found) <= limit
        if len(chosen) == rmax:
            return True
        for k in range(start, len(usable)):
            if chosen.count(k) < usable[k][1].count and not extend(k, [*chosen, k]):
                return False
        return True

    return found if extend(0, []) else None


def _private_candidate(
    mip: MipBuilder, h: Household, st: ShelterTypes, rmax: int, j: int, rooms: RoomRows
) -> list[int]:
    n_all = len(h.members)
    n3 = sum(1 for m in h.members if m.age >= 3)
    usable = [
        (t, rt)
        for t, (rt, wheel) in enumerate(st.private)
        if (wheel or not h.needs.wheelchair) and (rt.beds > 0 or n3 < n_all)
    ]
    if not private_may_fit(h, [rt for _, rt in usable], rmax):
        return []
    prof: Profile = (n3, n_all, h.needs.wheelchair)
    if (j, prof) not in rooms.patterns:
        rooms.patterns[(j, prof)] = minimal_patterns(usable, n3, n_all, rmax, MAX_PATTERNS)
    pats = rooms.patterns[(j, prof)]
    if pats is not None:
        if not pats:
            return []
        p = mip.var(1)
        rooms.linked[(j, prof)].append(p)
        return [p]
    p = mip.var(1)
    xs = [(t, rt, mip.var(min(rmax, rt.count))) for t, rt in usable]
    for t, _, col in xs:
        rooms.users[(j, t)].append((col, 1.0))
    mip.row([(p, -1.0)] + [(c, 1.0) for _, _, c in xs], 0, np.inf)
    mip.row([(p, -float(rmax))] + [(c, 1.0) for _, _, c in xs], -np.inf, 0)
    if n3:
        mip.row([(p, -float(n3))] + [(c, float(min(rt.beds, n3))) for _, rt, c in xs], 0, np.inf)
    mip.row(
        [(p, -float(n_all))] + [(c, float(min(rt.beds + rt.cribs, n_all))) for _, rt, c in xs],
        0,
        np.inf,
    )
    return [p]


def _shared_candidates(
    mip: MipBuilder,
    h: Household,
    st: ShelterTypes,
    j: int,
    rooms: RoomRows,
) -> list[int]:
    if len(h.members) != 1 or h.members[0].age < ADULT_AGE:
        return []
    cols = []
    for g, (sex, wheel, _beds) in enumerate(st.shared):
        if sex == h.members[0].sex and (wheel or not h.needs.wheelchair):
            col = mip.var(1)
            rooms.shared[(j, g)].append(col)
            cols.append(col)
    return cols


def _keep_apart_rows(model: NightModel) -> None:
    problem = model.problem
    index = {h.id: i for i, h in enumerate(problem.households)}
    shelters = problem.shelters
    dist: dict[tuple[int, int], float] = {}

    def apart_km(a: int, b: int) -> float:
        if (a, b) not in dist:
            sa, sb = shelters[a], shelters[b]
            dist[(a, b)] = dist[(b, a)] = haversine_km(sa.lat, sa.lon, sb.lat, sb.lon)
        return dist[(a, b)]

    for i, h in enumerate(problem.households):
        for pair in h.keep_apart:
            k = index[pair.household]
            if i not in model.place or k not in model.place:
                continue
            by_shelter: dict[int, list[int]] = defaultdict(list)
            for j, col in model.place[i]:
                by_shelter[j].append(col)
            for j, cols in by_shelter.items():
                margins = shelters[j].margin_km
                near = [
                    c
                    for jj, c in model.place[k]
                    if jj == j or apart_km(j, jj) < pair.km + margins + shelters[jj].margin_km
                ]
                if near:
                    model.mip.row([(c, 1.0) for c in cols + near], -np.inf, 1)


# --- level 1, lexicographic -----------------------------------------------------------------


@dataclass
class Stage:
    priority: int
    value: int
    bound: float
    proven: bool
    seconds: float


def level1_optimum(problem: Problem, time_limit_s: float = 120.0) -> dict[str, Any]:
    """People placed per priority in a level-1-optimal plan, and how it was obtained.

    Stage p leaves the households of lower priority out (their columns fixed at 0): they
    cannot help a higher tier, so the stage's optimum is the same and its model smaller.
    """
    t0 = time.perf_counter()
    model = build_model(problem, dict.fromkeys(range(len(problem.households)), False))
    build_s = time.perf_counter() - t0
    highs = model.mip.highs(maximise=True)
    n_cols = len(model.mip.lower)
    all_cols = np.arange(n_cols, dtype=np.int32)
    stages: list[Stage] = []
    solution: list[float] | None = None
    for p in PRIORITIES:
        tier = [i for i in model.place if problem.households[i].priority == p]
        terms = model.people_terms(tier)
        cost = np.zeros(n_cols)
        for col, val in terms:
            cost[col] = val
        highs.changeColsCost(n_cols, all_cols, cost)
        upper = np.array(model.mip.upper)
        for i, cands in model.place.items():
            if problem.households[i].priority < p:
                upper[[c for _, c in cands]] = 0.0
        highs.changeColsBounds(n_cols, all_cols, np.array(model.mip.lower), upper)
        remaining = time_limit_s - (time.perf_counter() - t0)
        placement_cols = np.array(
            [
                c
                for i, cands in model.place.items()
                if problem.households[i].priority >= p
                for _, c in cands
            ],
            dtype=np.int64,
        )
        stage = _solve_stage(highs, p, max(remaining, 1.0), solution, placement_cols)
        stages.append(stage)
        if stage.value < 0:  # no solution at all: later stages would mean nothing
            break
        solution = list(highs.getSolution().col_value)
        if terms:
            highs.addRow(
                stage.value,
                highspy.kHighsInf,
                len(terms),
                np.array([c for c, _ in terms], dtype=np.int32),
                np.array([v for _, v in terms]),
            )
    return {
        "level1": {str(s.priority): s.value for s in stages},
        "bound": {str(s.priority): s.bound for s in stages},
        "proven": len(stages) == len(PRIORITIES) and all(s.proven for s in stages),
        "stages": [s.__dict__ for s in stages],
        "columns": n_cols,
        "rows": len(model.mip.rows_lo),
        "build_s": round(build_s, 2),
        "seconds": round(time.perf_counter() - t0, 2),
        "solver": f"HiGHS {highs.version()} (highspy), 1 thread",
        "time_limit_s": time_limit_s,
    }


def _solve_stage(
    highs: highspy.Highs,
    priority: int,
    limit_s: float,
    start: list[float] | None,
    placement_cols: np.ndarray,
) -> Stage:
    """One lexicographic stage: LP bound, then a MIP on the LP's support, then the full MIP.

    The LP bound (rounded down: whole people) proves a value optimal as soon as a plan
    reaches it, which the MIP restricted to the LP's fractional placements (those it makes
    kept, those it leaves out excluded) usually does in seconds; only otherwise does the
    full MIP run, from that plan (HiGHS's root cuts alone can take minutes).
    """
    t0 = time.perf_counter()
    highs.setOptionValue("mip_rel_gap", 0.0)
    highs.setOptionValue("mip_abs_gap", 0.99)  # whole people: a gap under 1 is optimal
    highs.setOptionValue("solve_relaxation", True)
    _set_time_limit(highs, limit_s)
    highs.run()
    highs.setOptionValue("solve_relaxation", False)
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return Stage(priority, -1, float("inf"), False, round(time.perf_counter() - t0, 2))
    lp_bound = math.floor(highs.getInfo().objective_function_value + 1e-6)
    lp_values = np.array(highs.getSolution().col_value)
    lp = highs.getLp()
    lower, upper = np.array(lp.col_lower_), np.array(lp.col_upper_)
    values = lp_values[placement_cols]
    restricted_lo, restricted_hi = lower.copy(), upper.copy()
    restricted_hi[placement_cols[values < 1e-6]] = 0.0  # what the LP leaves out stays out
    restricted_lo[placement_cols[values > 1 - 1e-6]] = 1.0  # what it places stays placed
    n = len(upper)
    every = np.arange(n, dtype=np.int32)
    highs.changeColsBounds(n, every, restricted_lo, restricted_hi)
    value, proven = _run_mip(highs, min(30.0, _left(t0, limit_s)), start, lp_bound, False)
    best = list(highs.getSolution().col_value) if value >= 0 else start
    highs.changeColsBounds(n, every, lower, upper)
    if not proven:
        value2, proven = _run_mip(highs, _left(t0, limit_s), best, lp_bound, True)
        value = max(value, value2)
    bound = float(value) if proven else min(float(lp_bound), highs.getInfo().mip_dual_bound)
    return Stage(priority, value, bound, proven, round(time.perf_counter() - t0, 2))


def _set_time_limit(highs: highspy.Highs, seconds: float) -> None:
    """HiGHS's ``time_limit`` counts the instance's run time over all runs: extend it."""
    highs.setOptionValue("time_limit", highs.getRunTime() + float(seconds))


def _left(t0: float, limit_s: float) -> float:
    return max(1.0, limit_s - (time.perf_counter() - t0))


def _run_mip(
    highs: highspy.Highs, limit_s: float, start: list[float] | None, lp_bound: int, full: bool
) -> tuple[int, bool]:
    """(value or -1, proven optimal) of the MIP as its bounds stand now.

    A restricted MIP (``full`` false) proves the stage only by reaching the LP bound.
    """
    _set_time_limit(highs, limit_s)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = start
        sol.value_valid = True
        highs.setSolution(sol)
    highs.run()
    info = highs.getInfo()
    if info.primal_solution_status != highspy.SolutionStatus.kSolutionStatusFeasible:
        return -1, False
    value = round(info.objective_function_value)
    solved = highs.getModelStatus() == highspy.HighsModelStatus.kOptimal
    proven = value >= lp_bound or (full and solved)
    return value, proven


# --- km lower bound for a given placed set --------------------------------------------------


def km_lower_bound(
    problem: Problem, placed: Sequence[str], time_limit_s: float = 20.0
) -> dict[str, Any]:
    """Least total km to place exactly ``placed`` (any shelters, rules 1–8 kept).

    First the LP relaxation (a transportation problem with room and rule-8 rows, nearly
    integral, seconds): its value is already a valid lower bound. Then the MIP for what is
    left of the time: its dual bound, when higher, replaces it; ``proven`` says it closed.
    """
    t0 = time.perf_counter()
    index = {h.id: i for i, h in enumerate(problem.households)}
    wanted = {index[h] for h in placed}
    model = build_model(problem, dict.fromkeys(wanted, True))
    if set(model.place) != wanted:  # placed where the oracle sees no admissible shelter
        missing = sorted(problem.households[i].id for i in wanted - set(model.place))
        return {
            "lower_bound_km": None,
            "best_km": None,
            "proven": False,
            "status": f"no admissible shelter for {', '.join(missing[:5])}",
            "seconds": 0.0,
        }
    highs = model.mip.highs(maximise=False)
    n_cols = len(model.mip.lower)
    cost = np.zeros(n_cols)
    for (_, col), d in model.km.items():
        cost[col] = d
    highs.changeColsCost(n_cols, np.arange(n_cols, dtype=np.int32), cost)
    highs.setOptionValue("solve_relaxation", True)
    _set_time_limit(highs, time_limit_s)
    highs.run()
    ok = highs.getModelStatus() == highspy.HighsModelStatus.kOptimal
    bound = float(highs.getInfo().objective_function_value) if ok else 0.0
    highs.setOptionValue("solve_relaxation", False)
    highs.setOptionValue("mip_rel_gap", 1e-6)
    _set_time_limit(highs, _left(t0, time_limit_s))
    highs.run()
    status = highs.getModelStatus()
    info = highs.getInfo()
    feasible = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    if math.isfinite(info.mip_dual_bound):
        bound = max(bound, float(info.mip_dual_bound))
    return {
        "lower_bound_km": bound if ok or bound > 0 else None,
        "best_km": float(info.objective_function_value) if feasible else None,
        "proven": status == highspy.HighsModelStatus.kOptimal,
        "status": highs.modelStatusToString(status),
        "seconds": round(time.perf_counter() - t0, 2),
    }


# --- command line: compute and store the optima ---------------------------------------------

OPTIMA = Path(__file__).resolve().parent / "optima.json"


def store(name: str, result: dict[str, Any], path: Path = OPTIMA) -> None:
    """Merge one night's result into the fixture (locked: two runs may share the file)."""
    with path.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text()) if path.exists() else {"nights": {}}
        data["nights"][name] = result
        data["nights"] = dict(sorted(data["nights"].items()))
        path.write_text(json.dumps(data, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    from benchmarks.suite.nights import load_manifest, load_night

    p = argparse.ArgumentParser(description="Compute the suite's level-1 optima with HiGHS.")
    p.add_argument("--nights", help="comma-separated night names (default: all)")
    p.add_argument("--time-limit", type=float, default=300.0, help="seconds per night")
    p.add_argument("--out", type=Path, default=OPTIMA)
    p.add_argument("--skip-proven", action="store_true", help="keep nights already proven")
    args = p.parse_args(argv)
    names = [n["name"] for n in load_manifest()]
    if args.nights:
        wanted = args.nights.split(",")
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            p.error(f"unknown night(s): {', '.join(unknown)}")
        names = wanted
    done = json.loads(args.out.read_text())["nights"] if args.out.exists() else {}
    for name in names:
        if args.skip_proven and done.get(name, {}).get("proven"):
            continue
        result = level1_optimum(load_night(name), args.time_limit)
        result["computed"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        store(name, result, args.out)
        print(
            f"{name}: {result['level1']} proven={result['proven']} in {result['seconds']} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
