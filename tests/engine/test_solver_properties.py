"""Random small problems: the plan is valid, and on tiny ones level 1 is the brute-force optimum."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocation import Problem, check, check_assignment, solve
from allocation.rules import keep_apart_ok, keep_apart_pairs

from .builders import household, member, problem, room, shelter


@st.composite
def problems(draw: st.DrawFn, max_h: int = 5, max_s: int = 3) -> Problem:
    n_s = draw(st.integers(1, max_s))
    shelters = []
    for j in range(n_s):
        rooms = []
        for k in range(draw(st.integers(0, 3))):
            if draw(st.booleans()) and k == 0:
                rooms.append(
                    room(
                        f"S{j}-D{k}",
                        draw(st.integers(0, 2)),
                        shared=True,
                        sex=draw(st.sampled_from("FM")),
                    )
                )
            else:
                rooms.append(
                    room(
                        f"S{j}-R{k}",
                        draw(st.integers(0, 4)),
                        cribs=draw(st.integers(0, 1)),
                        wheelchair=draw(st.booleans()),
                    )
                )
        shelters.append(
            shelter(
                f"S{j}",
                km=draw(st.sampled_from([0, 4, 12, 30])),
                rooms=rooms,
                women=draw(st.booleans()) or j == 0,
                men=draw(st.booleans()),
                children=draw(st.booleans()),
                max_boy_age=draw(st.sampled_from([None, 10, 15])),
                wheelchair=draw(st.booleans()),
                languages=draw(st.sampled_from([[], ["fr"], ["fr", "ar"]])),
            )
        )
    n_h = draw(st.integers(1, max_h))
    hs: list[dict[str, Any]] = []
    for i in range(n_h):
        size = draw(st.integers(1, 4))
        members = [member(draw(st.sampled_from([19, 30, 45])), draw(st.sampled_from("FM")))]
        for _ in range(size - 1):
            members.append(
                member(draw(st.sampled_from([0, 2, 5, 12, 16, 30])), draw(st.sampled_from("FM")))
            )
        extra: dict[str, Any] = {}
        if draw(st.booleans()):
            extra["max_km"] = draw(st.sampled_from([5, 20]))
        if i > 0 and draw(st.integers(0, 3)) == 0:
            extra["keep_apart"] = [
                {
                    "household": f"H{draw(st.integers(0, i - 1))}",
                    "km": draw(st.sampled_from([0, 10])),
                }
            ]
        if draw(st.integers(0, 4)) == 0:
            extra["needs"] = {"wheelchair": True}
        hs.append(
            household(
                f"H{i}",
                members=members,
                priority=draw(st.integers(1, 4)),
                km=draw(st.sampled_from([0, 8, 25])),
                waiting_since=f"2026-11-28T{draw(st.integers(10, 22))}:00:00+01:00",
                **extra,
            )
        )
    return problem(shelters, hs, time_limit_s=5, max_rooms_per_household=draw(st.integers(1, 2)))


def brute_level1(prob: Problem) -> tuple[int, ...]:
    """Best (p4, p3, p2, p1) people by exhaustive search (rules via check_assignment)."""
    k = prob.settings.max_rooms_per_household
    opts: list[list[tuple[str, tuple[str, ...]] | None]] = []
    for h in prob.households:
        o: list[tuple[str, tuple[str, ...]] | None] = [None]
        for s in prob.shelters:
            ids = [r.id for r in s.rooms]
            for n in range(1, k + 1):
                for combo in itertools.combinations(ids, n):
                    if not check_assignment(prob, h.id, s.id, list(combo)):
                        o.append((s.id, combo))
        opts.append(o)
    beds = {r.id: r for s in prob.shelters for r in s.rooms}
    shelters = {s.id: s for s in prob.shelters}
    pairs = keep_apart_pairs(prob)
    best = (0, 0, 0, 0)
    for choice in itertools.product(*opts):
        used: dict[str, int] = {}
        ok = True
        for c in choice:
            if c is None:
                continue
            for rid in c[1]:
                used[rid] = used.get(rid, 0) + 1
                r = beds[rid]
                if used[rid] > (r.beds if r.shared else 1):
                    ok = False
        for (i, j), km in pairs.items():
            ci, cj = choice[i], choice[j]
            if ci and cj and not keep_apart_ok(shelters[ci[0]], shelters[cj[0]], km):
                ok = False
        if not ok:
            continue
        score = [0, 0, 0, 0]
        for h, c in zip(prob.households, choice, strict=True):
            if c is not None:
                score[4 - h.priority] += len(h.members)
        best = max(best, tuple(score))
    return best


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_random_plans_are_valid(prob: Problem) -> None:
    plan = solve(prob)
    assert check(prob, plan) == []
    ids = [a.household for a in plan.assignments] + [u.household for u in plan.unplaced]
    assert sorted(ids) == sorted(h.id for h in prob.households)
    assert plan.status == "optimal"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_h=3, max_s=2))
def test_tiny_level1_matches_brute_force(prob: Problem) -> None:
    plan = solve(prob)
    got = tuple(plan.objective.people_placed_by_priority[str(t)] for t in (4, 3, 2, 1))
    assert got == brute_level1(prob)
