"""``solve``: the wiring of the engine, from a problem to a plan.

1. the model as data (``allocation.model``): candidates, rows, objective coefficients;
2. the bounds (``allocation.bounds``): the tier LP, or none if the model is too big;
3. the search (``allocation.search``): a greedy plan, then level 1 (people per tier),
   level 2 (fairness) and levels 3-4 (km, fit) on the placed set, each stage pinning its
   level before the next, all within one time budget;
4. the plan (``allocation.plan``): rooms, unplaced reasons, status, bound and stats.

See ``docs/engine.md`` for the model and its guarantees. Thread-safe: no globals, one
``CpSolver`` per stage or call, no signals.
"""

from __future__ import annotations

import os
import time

from .bounds import TierBounds
from .model import KM_SCALE, build_objectives, build_rows, prepare
from .models import PRIORITIES, Bound, BoundedKind, Plan, Problem, Stats
from .params import DEFAULT_PARAMS, SearchParams
from .plan import build_plan
from .rules import keep_apart_pairs
from .search import Budget, Level1, Search, fairness_stage, fixed_set_stage


def solve(
    problem: Problem,
    *,
    num_workers: int | None = None,
    params: SearchParams | None = None,
    started: float | None = None,
) -> Plan:
    """Plan the night for ``problem`` within ``problem.settings.time_limit_s`` (all included).

    Pure and thread-safe; CPU-bound (run it in a worker thread from async code).
    ``num_workers`` defaults to the machine's cores (at most 8); ``params``: the tuning
    constants (``allocation.params``; default ``DEFAULT_PARAMS``); ``started``: the
    ``time.perf_counter()`` the limit counts from (default: now; the CLI passes its
    process's start, so that its start-up is inside the limit: ``stats.started_before_s``).
    """
    prm = params or DEFAULT_PARAMS
    now = time.perf_counter()
    t0 = now if started is None else min(started, now)
    workers = num_workers or max(1, min(8, os.cpu_count() or 1))
    budget = Budget.for_problem(problem, prm, t0)

    prep = prepare(problem, prm)
    budget.min_stage_s = prm.presolve_s(len(prep.cands))
    ka = keep_apart_pairs(problem)
    rows = build_rows(problem, prep, ka)
    budget.size_work(problem, prm, len(prep.cands), sum(len(r.vars) for r in rows))
    obj = build_objectives(problem, prep)
    search = Search(problem, prep, rows, obj, ka, budget, prm, workers, t0)

    bounds: TierBounds | None = None
    km_bound: int | None = 0
    level1_optimal = True  # nothing to place
    if search.n:
        bounds = TierBounds(problem, prep, rows, obj, budget, prm)
        budget.lp_reserve_s = bounds.reserve_s
        level1 = Level1(search, bounds)
        # Levels 1-2 end early enough for levels 3-4 on the fixed set to run.
        reserve = prm.fixed_set_reserve_share * problem.settings.time_limit_s
        budget.deadline -= reserve
        level1_optimal = level1.run()
        if any(obj.waits):
            fairness_stage(search, bounds.lp is not None, level1.lp_seen)
        budget.deadline += reserve
        km_bound = fixed_set_stage(search)

    plan = build_plan(problem, prep, search.current, t0)
    got = {int(k): v for k, v in plan.objective.people_placed_by_priority.items()}
    bound_people = got if level1_optimal or bounds is None else bounds.people
    plan.status = "optimal" if level1_optimal else "feasible"
    plan.bound = Bound(
        people_placed_by_priority={str(t): max(bound_people[t], got[t]) for t in PRIORITIES}
    )
    plan.stats = _stats(search, bounds, km_bound, now - t0)
    return plan


def _stats(
    search: Search, bounds: TierBounds | None, km_bound: int | None, before_s: float
) -> Stats:
    prep, st = search.prep, search.problem.settings
    bounded: dict[BoundedKind, int] = {}
    if prep.combo_bounded_pairs:
        bounded["room_sets_pairs"] = prep.combo_bounded_pairs
    if prep.truncated:
        bounded["shelters_per_household"] = 1  # see ``pruned``
    return Stats(
        wall_s=round(time.perf_counter() - search.t0, 3),
        solver="cp-sat",
        candidates=search.n,
        pruned=prep.truncated,
        stages=search.stages,
        deterministic=st.deterministic,
        deterministic_cut_by_wall_clock=st.deterministic and search.budget.cut_by_wall,
        lp_bound=bounds is not None and bounds.gives_bound,
        km_lower_bound=None if km_bound is None else round(km_bound / KM_SCALE, 2),
        bounded=bounded,
        started_before_s=round(before_s, 3),
    )


__all__ = ["solve"]
