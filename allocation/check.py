"""Independent verification of a plan against the problem: every broken rule, one sentence each.

Uses the same rule code as the solver (``rules``) but none of the solver's modelling, so a
modelling bug (a dropped constraint, a wrong room type count) shows up here.
"""

from __future__ import annotations

from collections import Counter

from .geo import haversine_matrix
from .models import PRIORITIES, Household, Plan, Problem, Room, Shelter
from .options import analyse
from .rules import (
    ShelterTable,
    capacity_columns,
    eligibility_failures,
    eligibility_sentence,
    household_km,
    keep_apart_ok,
    keep_apart_pairs,
    profile,
    room_set_errors,
    wasted_beds,
)

KM_TOLERANCE = 0.051  # plan km are rounded to 0.1 km


def _placement_errors(
    problem: Problem, h: Household, s: Shelter, rooms: list[Room], km: float | None
) -> list[str]:
    """Rules 2–7 for one household in ``rooms`` of ``s`` (rooms already known to be in s)."""
    errs: list[str] = []
    table = ShelterTable.from_shelters([s])
    real_km = float(household_km(table, h)[0])
    codes = eligibility_failures(h, s, real_km)
    if codes:
        errs.append(eligibility_sentence(h, s, codes, real_km))
    errs += room_set_errors(h, rooms, problem.settings.max_rooms_per_household)
    if km is not None and abs(km - real_km) > KM_TOLERANCE:
        errs.append(f"km reported {km:g} but the distance is {real_km:.1f}")
    return errs


def check_assignment(
    problem: Problem, household_id: str, shelter_id: str, room_ids: list[str]
) -> list[str]:
    """Rules 1–7 for one proposed placement (manual placement); [] means allowed.

    ``room_ids`` must be free rooms of the problem (the problem lists only free rooms), all
    in ``shelter_id``. Rule 8 and competition with other placements are not judged here.
    """
    h = next((x for x in problem.households if x.id == household_id), None)
    s = next((x for x in problem.shelters if x.id == shelter_id), None)
    errs: list[str] = []
    if h is None:
        errs.append(f"unknown household {household_id!r}")
    if s is None:
        errs.append(f"unknown shelter {shelter_id!r}")
    if h is None or s is None:
        return errs
    rooms = _resolve_rooms(problem, s, room_ids, errs, f"household {h.id}")
    if len(set(room_ids)) != len(room_ids):
        errs.append(f"household {h.id}: a room is listed twice")
    if errs:
        return errs
    return [f"household {h.id}: {e}" for e in _placement_errors(problem, h, s, rooms, None)]


def _resolve_rooms(
    problem: Problem,
    s: Shelter,
    room_ids: list[str],
    errs: list[str],
    who: str,
    where: dict[str, Shelter] | None = None,
) -> list[Room]:
    own = {r.id: r for r in s.rooms}
    rooms: list[Room] = []
    for rid in room_ids:
        if rid in own:
            rooms.append(own[rid])
            continue
        if where is None:  # only needed to word an error: built lazily
            where = {r.id: sh for sh in problem.shelters for r in sh.rooms}
        if rid in where:
            errs.append(
                f"{who}: room {rid} belongs to shelter {where[rid].id}, not {s.id} (rule 1)"
            )
        else:
            errs.append(f"{who}: unknown or not free room {rid!r}")
    return rooms


def check(problem: Problem, plan: Plan) -> list[str]:
    """Every way ``plan`` breaks the contract for ``problem``; [] means valid."""
    errs: list[str] = []
    hs = {h.id: h for h in problem.households}
    shelters = {s.id: s for s in problem.shelters}
    seen = Counter([a.household for a in plan.assignments] + [u.household for u in plan.unplaced])
    for hid, k in seen.items():
        if hid not in hs:
            errs.append(f"unknown household {hid!r} in the plan")
        elif k > 1:
            errs.append(f"household {hid} appears {k} times (rule 1: placed wholly, once)")
    for hid in hs:
        if hid not in seen:
            errs.append(f"household {hid} is missing from the plan")

    room_home = {r.id: sh for sh in problem.shelters for r in sh.rooms}
    private_use: dict[str, list[str]] = {}
    shared_use: Counter[str] = Counter()
    placed_in: dict[str, Shelter] = {}
    tiers = dict.fromkeys(PRIORITIES, 0)
    sum_km = 0.0
    sum_wasted = 0
    for a in plan.assignments:
        h = hs.get(a.household)
        s = shelters.get(a.shelter)
        if s is None:
            errs.append(f"household {a.household}: unknown shelter {a.shelter!r}")
        if h is None or s is None:
            continue
        who = f"household {h.id} in {s.id}"
        local: list[str] = []
        rooms = _resolve_rooms(problem, s, a.rooms, local, who, room_home)
        errs += local
        if len(set(a.rooms)) != len(a.rooms):
            errs.append(f"{who}: a room is listed twice")
        errs += [f"{who}: {e}" for e in _placement_errors(problem, h, s, rooms, a.km)]
        for r in rooms:
            if r.shared:
                shared_use[r.id] += 1
            else:
                private_use.setdefault(r.id, []).append(h.id)
        placed_in[h.id] = s
        tiers[h.priority] += len(h.members)
        sum_km += a.km
        sum_wasted += wasted_beds(profile(h), rooms)

    rooms_by_id = {r.id: r for s in problem.shelters for r in s.rooms}
    for rid, users in private_use.items():
        if len(users) > 1:
            errs.append(
                f"private room {rid} is given to {len(users)} households ({', '.join(users)}); "
                "a private room holds one household (rule 2)"
            )
    for rid, k in shared_use.items():
        beds = rooms_by_id[rid].beds
        if k > beds:
            errs.append(f"shared room {rid} gets {k} people for {beds} free beds (rule 3)")

    for (i, j), km in keep_apart_pairs(problem).items():
        ha, hb = problem.households[i], problem.households[j]
        sa, sb = placed_in.get(ha.id), placed_in.get(hb.id)
        if sa is None or sb is None:
            continue
        if sa.id == sb.id:
            errs.append(
                f"households {ha.id} and {hb.id} must be kept apart but share {sa.id} (rule 8)"
            )
            continue
        if not keep_apart_ok(sa, sb, km):
            d = float(haversine_matrix([sa.lat], [sa.lon], [sb.lat], [sb.lon])[0, 0])
            margins = sa.margin_km + sb.margin_km
            within = f" (± {margins:.1f} km position margin)" if margins else ""
            errs.append(
                f"households {ha.id} and {hb.id} must be {km:g} km apart but {sa.id} and {sb.id} "
                f"are {d:.1f} km apart{within} (rule 8)"
            )

    errs += _check_unplaced(problem, plan, hs)
    errs += _check_summary(plan, tiers, sum_km, sum_wasted)
    return errs


def _check_unplaced(problem: Problem, plan: Plan, hs: dict[str, Household]) -> list[str]:
    errs: list[str] = []
    if plan.status == "no_solution":
        if plan.assignments:
            errs.append("status no_solution but the plan has assignments")
        for u in plan.unplaced:
            if u.code != "timeout":
                errs.append(f"status no_solution but household {u.household} has code {u.code}")
        return errs
    table = ShelterTable.from_problem(problem)
    caps = capacity_columns(problem)
    for u in plan.unplaced:
        h = hs.get(u.household)
        if h is None:
            continue
        if u.code == "timeout":
            errs.append(f"household {h.id}: code timeout in a plan with status {plan.status}")
            continue
        a = analyse(problem, h, table, max_options=1, caps=caps)
        expected = a.code or "capacity_taken"
        if u.code != expected:
            errs.append(
                f"household {h.id}: unplaced code {u.code} but, judged alone, it is {expected}"
            )
        if not u.detail.strip():
            errs.append(f"household {h.id}: unplaced without a detail")
    return errs


def _check_summary(plan: Plan, tiers: dict[int, int], sum_km: float, sum_wasted: int) -> list[str]:
    errs: list[str] = []
    reported = plan.objective.people_placed_by_priority
    for t in PRIORITIES:
        if reported.get(str(t)) != tiers[t]:
            errs.append(
                f"objective.people_placed_by_priority[{t}] is {reported.get(str(t))} but the "
                f"assignments place {tiers[t]}"
            )
        b = plan.bound.people_placed_by_priority.get(str(t))
        if b is None or b < tiers[t]:
            errs.append(f"bound.people_placed_by_priority[{t}] = {b} is below what is placed")
    tol = 0.05 * len(plan.assignments) + 0.11
    if abs(plan.objective.total_km - sum_km) > tol:
        errs.append(
            f"objective.total_km is {plan.objective.total_km:g} but the assignments sum to "
            f"{sum_km:.1f} km"
        )
    if plan.objective.wasted_beds != sum_wasted:
        errs.append(
            f"objective.wasted_beds is {plan.objective.wasted_beds} but the assignments "
            f"waste {sum_wasted}"
        )
    return errs


__all__ = ["check", "check_assignment"]
