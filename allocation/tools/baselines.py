"""Two baselines to measure ``allocation.solve`` against (benchmarks, tests).

- :func:`greedy_fcfs` — what a night desk does by phone: first come, first served by
  ``waiting_since``, each household to the nearest shelter that can take it now, in the
  smallest rooms that fit. No look-ahead, no priority.
- :func:`naive_cpsat` — the textbook CP-SAT model: one boolean per (household, room) and
  one per (household, shelter), the hard rules as linear constraints, and the same level-1
  objective as the engine (people placed per priority tier, lexicographic through weights).
  No room-type aggregation, no combination enumeration, no symmetry breaking.

Both take every eligibility and fit decision from :mod:`allocation.rules` (the rules are
written once) and explain unplaced households with :func:`allocation.options.analyse`, as
the engine does, so their plans pass :func:`allocation.check.check`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from allocation.model import tier_weights as engine_tier_weights
from allocation.models import (
    PRIORITIES,
    Assignment,
    Bound,
    Objective,
    Plan,
    Problem,
    Room,
    Stats,
    Unplaced,
)
from allocation.options import analyse
from allocation.rules import (
    CAPACITY_COLUMNS,
    EligiblePairs,
    Profile,
    ShelterTable,
    best_room_set,
    eligible_pairs,
    fit_possible_class,
    keep_apart_ok,
    keep_apart_pairs,
    km_for_plan,
    profile,
    room_set_errors,
    room_types,
    shared_fit_errors,
    shared_pools,
    shelter_capacity,
    wasted_beds,
)


@dataclass(frozen=True)
class _Placement:
    shelter: int  # index into problem.shelters
    rooms: list[str]
    km: float


def _pairs_by_household(pairs: EligiblePairs, n: int) -> list[tuple[int, int]]:
    """Slice bounds of each household's pairs (pairs come sorted by household)."""
    bounds = np.searchsorted(pairs.household, np.arange(n + 1))
    return [(int(bounds[i]), int(bounds[i + 1])) for i in range(n)]


class _Capacity:
    """What is still free in each shelter, as the rules' capacity columns.

    Only the rules' quick *necessary* fit test (``rules.fit_possible_class``) to skip
    shelters that cannot take a household any more (the greedy would otherwise try
    thousands of full shelters per household at national size); the real decision is
    always ``rules.best_room_set``.
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.max_rooms = problem.settings.max_rooms_per_household
        n = len(problem.shelters)
        self.used_private: set[str] = set()
        self.shared_left: dict[str, int] = {
            r.id: r.beds for s in problem.shelters for r in s.rooms if r.shared
        }
        self.caps = {name: np.zeros(n, dtype=np.int64) for name in CAPACITY_COLUMNS}
        for j in range(n):
            self.refresh(j)

    def free_rooms(self, j: int) -> list[Room]:
        return _free_rooms(self.problem.shelters[j].rooms, self.used_private, self.shared_left)

    def refresh(self, j: int) -> None:
        free = self.free_rooms(j)
        now = shelter_capacity(room_types(free), shared_pools(free), self.max_rooms)
        for name, value in now.items():
            self.caps[name][j] = value

    def maybe(self, p: Profile, wheelchair: bool, shelters: np.ndarray) -> np.ndarray:
        caps = {name: col[shelters] for name, col in self.caps.items()}
        out: np.ndarray = fit_possible_class(
            caps, p.needs_bed, p.size, wheelchair, p.single_adult_sex
        )
        return out

    def take(self, j: int, ids: list[str]) -> None:
        for rid in ids:
            if rid in self.shared_left:
                self.shared_left[rid] -= 1
            else:
                self.used_private.add(rid)
        self.refresh(j)


def _tiers(values: dict[int, int]) -> dict[str, int]:
    return {str(p): int(values.get(p, 0)) for p in PRIORITIES}


def _bound(
    status: str,
    lex_bound: dict[int, int] | None,
    people: dict[int, int],
    capacity_taken: dict[int, int],
) -> dict[int, int]:
    """See ``_build_plan``: the reported bound per tier."""
    bound: dict[int, int] = {}
    above = status != "optimal" and lex_bound is None
    for p in PRIORITIES:  # 4 first
        placed_p = people.get(p, 0)
        if status == "optimal":
            bound[p] = placed_p
        elif above:
            bound[p] = placed_p + capacity_taken.get(p, 0)
        else:
            assert lex_bound is not None
            trivial = placed_p + capacity_taken.get(p, 0)
            # Lower tiers of a lexicographic bound only hold while the tiers above are
            # tight; past the first loose tier, fall back to the trivial bound.
            bound[p] = max(placed_p, min(lex_bound[p], trivial))
            above = bound[p] > placed_p or lex_bound[p] > trivial
    return bound


def _build_plan(
    problem: Problem,
    table: ShelterTable,
    placed: dict[int, _Placement],
    status: str,
    lex_bound: dict[int, int] | None,
    stats: Stats,
    blocked_reason: str,
) -> Plan:
    """Assignments, unplaced reasons (judged alone, as the spec asks) and objective.

    The bound: what was placed when ``status`` is optimal; else ``lex_bound`` (a
    lexicographic upper bound, e.g. from CP-SAT) down to its first tier above what was
    placed, and below that tier the trivial bound: placed + unplaced who fit alone.
    """
    rooms_by_id: dict[str, Room] = {r.id: r for s in problem.shelters for r in s.rooms}
    assignments: list[Assignment] = []
    unplaced: list[Unplaced] = []
    people: dict[int, int] = {}
    capacity_taken: dict[int, int] = {}
    total_km = 0.0
    waste = 0
    for i, h in enumerate(problem.households):
        pl = placed.get(i)
        if pl is not None:
            km = km_for_plan(pl.km)
            assignments.append(
                Assignment(
                    household=h.id,
                    shelter=problem.shelters[pl.shelter].id,
                    rooms=pl.rooms,
                    km=km,
                )
            )
            people[h.priority] = people.get(h.priority, 0) + h.size
            total_km += pl.km
            waste += wasted_beds(h, [rooms_by_id[r] for r in pl.rooms])
            continue
        if status == "no_solution":
            unplaced.append(
                Unplaced(household=h.id, code="timeout", detail="no plan within the time limit")
            )
            continue
        a = analyse(problem, h, table, max_options=1)
        if a.code is not None:
            unplaced.append(Unplaced(household=h.id, code=a.code, detail=a.detail))
        else:
            capacity_taken[h.priority] = capacity_taken.get(h.priority, 0) + h.size
            best = a.options[0]
            detail = (
                f"could be placed alone (nearest fit {best.shelter} at {best.km:.1f} km); "
                f"{blocked_reason}"
            )
            unplaced.append(Unplaced(household=h.id, code="capacity_taken", detail=detail))
    bound = _bound(status, lex_bound, people, capacity_taken)
    return Plan(
        status=status,
        assignments=assignments,
        unplaced=unplaced,
        objective=Objective(
            people_placed_by_priority=_tiers(people),
            total_km=round(total_km, 1),
            wasted_beds=waste,
        ),
        bound=Bound(people_placed_by_priority=_tiers(bound)),
        stats=stats,
    )


# --- first come, first served -------------------------------------------------------------


def greedy_fcfs(problem: Problem) -> Plan:
    """First come, first served: the night desk's phone round, as a baseline.

    Households in ``waiting_since`` order (ties: problem order). Each goes to the nearest
    shelter passing rules 4–7 whose rooms still free can take it (rules.best_room_set: a
    shared bed for a single adult, else the smallest fitting private rooms) and that is
    far enough from every keep-apart partner already placed (rule 8). Never revisited.

    ``status`` is ``feasible``; ``bound`` is the trivial one (everyone who could be placed
    alone), since a greedy proves nothing.
    """
    t0 = time.perf_counter()
    table = ShelterTable.from_problem(problem)
    hs = problem.households
    max_rooms = problem.settings.max_rooms_per_household
    has_rooms = np.array([bool(s.rooms) for s in problem.shelters], dtype=bool)
    pairs = eligible_pairs(problem, table, extra_mask=has_rooms)
    by_h = _pairs_by_household(pairs, len(hs))

    apart: dict[int, list[tuple[int, float]]] = {}
    for (i, j), km in keep_apart_pairs(problem).items():
        apart.setdefault(i, []).append((j, km))
        apart.setdefault(j, []).append((i, km))

    cap = _Capacity(problem)
    order = sorted(range(len(hs)), key=lambda i: (hs[i].waiting_since, i))
    placed: dict[int, _Placement] = {}
    for i in order:
        h = hs[i]
        p = profile(h)
        lo, hi = by_h[i]
        shelters = pairs.shelter[lo:hi]
        kms = pairs.km[lo:hi]
        near = np.argsort(kms, kind="stable")  # nearest first, ties by shelter order
        shelters, kms = shelters[near], kms[near]
        maybe = cap.maybe(p, h.needs.wheelchair, shelters)
        for j, km in zip(shelters[maybe].tolist(), kms[maybe].tolist(), strict=True):
            s = problem.shelters[j]
            if any(
                k in placed and not keep_apart_ok(s, problem.shelters[placed[k].shelter], d)
                for k, d in apart.get(i, ())
            ):
                continue
            free = cap.free_rooms(j)
            ids = best_room_set(h, free, max_rooms, p) if free else None
            if ids is None:
                continue
            cap.take(j, ids)
            placed[i] = _Placement(j, ids, km)
            break

    return _build_plan(
        problem,
        table,
        placed,
        "feasible",
        None,
        Stats(wall_s=round(time.perf_counter() - t0, 3), solver="greedy-fcfs"),
        "first come, first served gave the beds it could use to households who called "
        "earlier (or a keep-apart partner was placed nearby)",
    )


def _free_rooms(
    rooms: Sequence[Room], used_private: set[str], shared_left: dict[str, int]
) -> list[Room]:
    free: list[Room] = []
    for r in rooms:
        if r.shared:
            left = shared_left[r.id]
            if left > 0:
                free.append(r if left == r.beds else r.model_copy(update={"beds": left}))
        elif r.id not in used_private:
            free.append(r)
    return free


# --- the textbook CP-SAT model ------------------------------------------------------------


class _TargetWatcher(cp_model.CpSolverSolutionCallback):
    """Notes when the level-1 objective first reaches ``target`` and stops there."""

    def __init__(self, t0: float, target: int | None) -> None:
        super().__init__()
        self.t0 = t0
        self.target = target
        self.reached_s: float | None = None
        self.first_s: float | None = None

    def on_solution_callback(self) -> None:
        now = time.perf_counter() - self.t0
        if self.first_s is None:
            self.first_s = now
        if self.target is not None and self.ObjectiveValue() >= self.target - 0.5:
            self.reached_s = now
            self.StopSearch()


def tier_weights(problem: Problem) -> dict[int, int]:
    """Weights making "people per tier, 4 first" lexicographic in one integer sum: the
    engine's own (``allocation.model.tier_weights``) over every person of each tier."""
    people = dict.fromkeys(PRIORITIES, 0)
    for h in problem.households:
        people[h.priority] += h.size
    return engine_tier_weights(people)


def level1_value(problem: Problem, people_by_priority: dict[str, int]) -> int:
    """The weighted level-1 value of a plan's ``people_placed_by_priority``."""
    w = tier_weights(problem)
    return sum(w[p] * int(people_by_priority.get(str(p), 0)) for p in PRIORITIES)


def _unweigh(problem: Problem, value: int) -> dict[int, int]:
    """Mixed-radix decomposition of a weighted value: a lexicographic per-tier vector."""
    w = tier_weights(problem)
    out: dict[int, int] = {}
    for p in PRIORITIES:  # 4 first
        out[p], value = divmod(value, w[p])
    return out


class _NaiveModel:
    """The textbook model: y[i, j] household i in shelter j, x[i, r] household i in room r."""

    def __init__(self, problem: Problem, pairs: EligiblePairs) -> None:
        self.problem = problem
        self.max_rooms = problem.settings.max_rooms_per_household
        self.m = cp_model.CpModel()
        self.y: dict[tuple[int, int], cp_model.IntVar] = {}
        self.km_of: dict[tuple[int, int], float] = {}
        self.x: dict[tuple[int, str], cp_model.IntVar] = {}
        self.in_room: dict[str, list[cp_model.IntVar]] = {}
        self.profiles: list[Profile] = [profile(h) for h in problem.households]
        self.rooms_by_id = {r.id: r for s in problem.shelters for r in s.rooms}
        for i, j, km in zip(
            pairs.household.tolist(), pairs.shelter.tolist(), pairs.km.tolist(), strict=True
        ):
            self._add_pair(i, j, km)
        self._add_rows()

    def _add_pair(self, i: int, j: int, km: float) -> None:
        m = self.m
        h, s, p = self.problem.households[i], self.problem.shelters[j], self.profiles[i]
        # A shelter whose free rooms cannot take the household even alone: no variables.
        if best_room_set(h, s.rooms, self.max_rooms, p) is None:
            return
        yv = m.new_bool_var(f"y_{i}_{j}")
        self.y[i, j], self.km_of[i, j] = yv, km
        shared_vars: list[cp_model.IntVar] = []
        priv: list[tuple[cp_model.IntVar, Room]] = []
        for r in s.rooms:
            if r.shared:
                if shared_fit_errors(h, r, p):
                    continue
            elif (h.needs.wheelchair and not r.wheelchair) or r.beds + r.cribs == 0:
                continue
            xv = m.new_bool_var(f"x_{i}_{r.id}")
            self.x[i, r.id] = xv
            self.in_room.setdefault(r.id, []).append(xv)
            m.add_implication(xv, yv)
            if r.shared:
                shared_vars.append(xv)
            else:
                priv.append((xv, r))
        n_shared = sum(shared_vars)
        # Rule 2/3: exactly one shared room, or 1..max_rooms private rooms that fit.
        m.add(n_shared <= yv)
        private_on = yv - n_shared  # 1 when placed here in private rooms
        m.add(sum(xv for xv, _ in priv) >= private_on)
        m.add(sum(xv for xv, _ in priv) <= self.max_rooms * private_on)
        m.add(sum(r.beds * xv for xv, r in priv) >= p.needs_bed * private_on)
        m.add(sum((r.beds + r.cribs) * xv for xv, r in priv) >= p.size * private_on)

    def _add_rows(self) -> None:
        m, problem = self.m, self.problem
        shelters = problem.shelters
        by_h: dict[int, list[tuple[int, cp_model.IntVar]]] = {}
        for (i, j), yv in self.y.items():
            by_h.setdefault(i, []).append((j, yv))
        for vs in by_h.values():  # rule 1: one shelter at most
            m.add_at_most_one(v for _, v in vs)
        for rid, room_vars in self.in_room.items():  # a private room: one household; a dorm: beds
            room = self.rooms_by_id[rid]
            m.add(sum(room_vars) <= (room.beds if room.shared else 1))
        for (a, b), km in keep_apart_pairs(problem).items():  # rule 8, per pair of shelters
            for ja, va in by_h.get(a, ()):
                for jb, vb in by_h.get(b, ()):
                    if not keep_apart_ok(shelters[ja], shelters[jb], km):
                        m.add_bool_or([va.Not(), vb.Not()])
        hs = problem.households
        weights = tier_weights(problem)
        m.maximize(sum(weights[hs[i].priority] * hs[i].size * v for (i, _), v in self.y.items()))

    def placements(self, solver: cp_model.CpSolver) -> dict[int, _Placement]:
        hs, shelters = self.problem.households, self.problem.shelters
        placed: dict[int, _Placement] = {}
        for (i, j), yv in self.y.items():
            if solver.boolean_value(yv):
                ids = [
                    r.id
                    for r in shelters[j].rooms
                    if (i, r.id) in self.x and solver.boolean_value(self.x[i, r.id])
                ]
                # Belt and braces: the linear encoding must agree with the rules module.
                errs = room_set_errors(hs[i], [self.rooms_by_id[r] for r in ids], self.max_rooms)
                if errs:
                    raise AssertionError(f"naive model broke rule 2/3 for {hs[i].id}: {errs}")
                placed[i] = _Placement(j, ids, self.km_of[i, j])
        return placed


def naive_cpsat(
    problem: Problem,
    time_limit_s: float | None = None,
    target: dict[str, int] | None = None,
    workers: int = 2,
) -> Plan:
    """Level 1 with a straightforward CP-SAT model (see module doc).

    ``time_limit_s`` (default: the problem's) bounds model building plus search.
    ``target`` (people per tier, e.g. the engine's result) stops the search as soon as a
    solution at least as good on level 1 is found; ``stats.time_to_target_s`` then says
    when (None if never). Status ``optimal`` means level 1 proven.
    """
    t0 = time.perf_counter()
    limit = problem.settings.time_limit_s if time_limit_s is None else time_limit_s
    table = ShelterTable.from_problem(problem)
    model = _NaiveModel(problem, eligible_pairs(problem, table))

    solver = cp_model.CpSolver()
    build_s = time.perf_counter() - t0
    solver.parameters.max_time_in_seconds = max(0.1, limit - build_s)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = problem.settings.seed
    watcher = _TargetWatcher(t0, None if target is None else level1_value(problem, target))
    code = solver.solve(model.m, watcher)

    placed: dict[int, _Placement] = {}
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        placed = model.placements(solver)
    lex_bound: dict[int, int] | None = None
    if code == cp_model.OPTIMAL:
        status = "optimal"
    elif code == cp_model.FEASIBLE:
        status = "feasible"
        lex_bound = _unweigh(problem, int(solver.best_objective_bound + 1e-6))
    else:
        status = "no_solution"
    stats = Stats(
        wall_s=round(time.perf_counter() - t0, 3),
        solver="cp-sat-naive",
        build_s=round(build_s, 3),
        variables=len(model.y) + len(model.x),
        first_solution_s=None if watcher.first_s is None else round(watcher.first_s, 3),
        time_to_target_s=None if watcher.reached_s is None else round(watcher.reached_s, 3),
        cp_sat_status=solver.status_name(code),
    )
    return _build_plan(
        problem,
        table,
        placed,
        status,
        lex_bound,
        stats,
        "the level-1 optimum gave these beds to others (or a keep-apart partner)",
    )


__all__ = ["greedy_fcfs", "level1_value", "naive_cpsat", "tier_weights"]
