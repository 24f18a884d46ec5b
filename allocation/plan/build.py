"""The plan of the chosen candidates: assignments, unplaced reasons, objective values."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..model import Prepared
from ..models import PRIORITIES, Assignment, Bound, Objective, Plan, Problem, Stats
from ..rules import keep_apart_pairs, km_for_plan, wasted_beds
from .explain import keep_apart_partners, unplaced_reason
from .rooms import assign_rooms


def build_plan(problem: Problem, prep: Prepared, values: Sequence[int], t0: float) -> Plan:
    """A ``feasible`` plan of the candidates set in ``values`` (the caller sets status,
    bound and stats)."""
    hs = problem.households
    c = prep.cands
    chosen: dict[int, int] = {c.h[v]: v for v in range(len(c)) if values[v]}
    rooms_of = assign_rooms(problem, prep, chosen)
    rooms_by_id = {r.id: r for sh in problem.shelters for r in sh.rooms}
    partners = keep_apart_partners(keep_apart_pairs(problem))
    assignments: list[Assignment] = []
    unplaced = []
    tiers = dict.fromkeys(PRIORITIES, 0)
    total_km = 0.0
    wasted = 0
    for i, h in enumerate(hs):
        if i not in chosen:
            unplaced.append(unplaced_reason(problem, prep, i, chosen, partners))
            continue
        v = chosen[i]
        assignments.append(
            Assignment(
                household=h.id,
                shelter=problem.shelters[c.s[v]].id,
                rooms=rooms_of[i],
                km=km_for_plan(c.km[v]),
            )
        )
        tiers[h.priority] += prep.profiles[i].size
        total_km += c.km[v]
        wasted += wasted_beds(prep.profiles[i], [rooms_by_id[r] for r in rooms_of[i]])
    return Plan(
        status="feasible",
        assignments=assignments,
        unplaced=unplaced,
        objective=Objective(
            people_placed_by_priority={str(t): tiers[t] for t in PRIORITIES},
            total_km=round(total_km, 1),
            wasted_beds=wasted,
        ),
        bound=Bound(people_placed_by_priority={str(t): 0 for t in PRIORITIES}),
        stats=Stats(wall_s=round(time.perf_counter() - t0, 3), solver="cp-sat"),
    )


__all__ = ["build_plan"]
