"""Each hard rule, built so that breaking it would improve the objective.

If the solver dropped the rule it would produce the forbidden plan (nearer, or more people);
each case also hands the forbidden plan to ``check`` and expects it flagged.
"""

from __future__ import annotations

from typing import Any

import pytest

from allocation import Assignment, Plan, Problem, check, solve
from allocation.models import Bound, Objective, Stats, Unplaced

from .builders import MAN, WOMAN, household, member, problem, room, shelter


def placed(plan: Plan) -> dict[str, Assignment]:
    return {a.household: a for a in plan.assignments}


def forged(prob: Problem, assignments: list[tuple[str, str, list[str]]]) -> Plan:
    """A plan with the given assignments, everything else consistent (objective, km)."""
    from allocation.geo import haversine_km

    hs = {h.id: h for h in prob.households}
    ss = {s.id: s for s in prob.shelters}
    out: list[Assignment] = []
    tiers = {"4": 0, "3": 0, "2": 0, "1": 0}
    for hid, sid, rooms in assignments:
        h, s = hs[hid], ss[sid]
        km = round(haversine_km(h.origin.lat, h.origin.lon, s.lat, s.lon), 1)
        out.append(Assignment(household=hid, shelter=sid, rooms=rooms, km=km))
        tiers[str(h.priority)] += len(h.members)
    done = {a.household for a in out}
    unplaced = [
        Unplaced(household=h.id, code="capacity_taken", detail="x")
        for h in prob.households
        if h.id not in done
    ]
    return Plan(
        status="feasible",
        assignments=out,
        unplaced=unplaced,
        objective=Objective(
            people_placed_by_priority=tiers, total_km=sum(a.km for a in out), wasted_beds=0
        ),
        bound=Bound(people_placed_by_priority={k: 99 for k in tiers}),
        stats=Stats(wall_s=0, solver="test"),
    )


def rule_hits(errors: list[str], needle: str) -> bool:
    return any(needle in e for e in errors)


# (name, household kwargs, bad shelter kwargs, good shelter kwargs or None, rule text in check)
NEAR_FORBIDDEN: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], str]] = [
    ("women", {"members": WOMAN}, {"women": False}, {}, "rule 4"),
    ("men", {"members": MAN}, {"men": False}, {}, "rule 4"),
    (
        "children",
        {"members": [member(30, "F"), member(5, "F")]},
        {"children": False},
        {},
        "rule 4",
    ),
    (
        "max_boy_age",
        {"members": [member(30, "F"), member(15, "M")]},
        {"max_boy_age": 12},
        {"max_boy_age": 16},
        "rule 4",
    ),
    (
        "dv_specialised",
        {"needs": {"dv_specialised": True}},
        {"dv_specialised": False},
        {"dv_specialised": True},
        "rule 4",
    ),
    ("secure", {"needs": {"secure": True}}, {"secure": False}, {"secure": True}, "rule 4"),
    ("pets", {"needs": {"pets": True}}, {"pets": False}, {"pets": True}, "rule 4"),
    (
        "wheelchair_shelter",
        {"needs": {"wheelchair": True}},
        {"wheelchair": False, "rooms": [room("B-R1", 2, wheelchair=True)]},
        {"wheelchair": True, "rooms": [room("G-R1", 2, wheelchair=True)]},
        "rule 4",
    ),
    (
        "wheelchair_rooms",
        {"needs": {"wheelchair": True}},
        {"wheelchair": True, "rooms": [room("B-R1", 2, wheelchair=False)]},
        {"wheelchair": True, "rooms": [room("G-R1", 2, wheelchair=True)]},
        "wheelchair",
    ),
    ("excluded", {"excluded_shelters": ["B"]}, {}, {}, "rule 7"),
    ("avoid", {"avoid": [{"lat": 50.0, "lon": 3.0, "km": 5}]}, {}, {}, "rule 6"),
    (
        "shared_room_sex",
        {"members": WOMAN},
        {"rooms": [room("B-D1", 4, shared=True, sex="M")]},
        {"rooms": [room("G-D1", 4, shared=True, sex="F")]},
        "rule 3",
    ),
    (
        "shared_room_single_adult",
        {"members": [member(30, "F"), member(5, "F")]},
        {"rooms": [room("B-D1", 4, shared=True, sex="F")]},
        {"rooms": [room("G-R1", 2)]},
        "rule 3",
    ),
    (
        "beds_vs_cribs",
        {"members": [member(30, "F"), member(4, "M")]},
        {"rooms": [room("B-R1", 1, cribs=1)]},
        {"rooms": [room("G-R1", 2)]},
        "rule 2",
    ),
]


@pytest.mark.parametrize(
    ("name", "hkw", "bad", "good", "needle"), NEAR_FORBIDDEN, ids=[c[0] for c in NEAR_FORBIDDEN]
)
def test_rule_beats_distance(
    name: str, hkw: dict[str, Any], bad: dict[str, Any], good: dict[str, Any], needle: str
) -> None:
    """The forbidden shelter is 1 km away, the allowed one 30 km: km would pick the first."""
    prob = problem(
        [shelter("B", km=1, **bad), shelter("G", km=30, **good)],
        [household("H", **hkw)],
    )
    plan = solve(prob)
    assert check(prob, plan) == []
    assert plan.status == "optimal"
    assert placed(plan)["H"].shelter == "G", name
    bad_rooms = [r.id for r in prob.shelters[0].rooms]
    errors = check(prob, forged(prob, [("H", "B", bad_rooms)]))
    assert rule_hits(errors, needle), errors


def test_travel_max_km() -> None:
    prob = problem([shelter("B", km=15)], [household("H", max_km=10)])
    plan = solve(prob)
    assert plan.assignments == []
    assert plan.unplaced[0].code == "no_eligible_shelter"
    assert "beyond 10 km" in plan.unplaced[0].detail
    assert rule_hits(check(prob, forged(prob, [("H", "B", ["B-R1"])])), "rule 5")


def test_one_shelter_family_not_split() -> None:
    """Rule 1: two 2-bed rooms in two shelters cannot take a family of 4."""
    family = [member(30, "F"), member(35, "M"), member(8, "F"), member(6, "M")]
    prob = problem(
        [shelter("A", rooms=[room("A-R1", 2)]), shelter("B", rooms=[room("B-R1", 2)])],
        [household("H", members=family)],
    )
    plan = solve(prob)
    assert plan.assignments == [] and plan.unplaced[0].code == "no_room_fits"
    errors = check(prob, forged(prob, [("H", "A", ["A-R1", "B-R1"])]))
    assert rule_hits(errors, "belongs to shelter B"), errors


def test_private_room_holds_one_household() -> None:
    prob = problem([shelter("A", rooms=[room("A-R1", 2)])], [household("H1"), household("H2")])
    plan = solve(prob)
    assert len(plan.assignments) == 1
    errors = check(prob, forged(prob, [("H1", "A", ["A-R1"]), ("H2", "A", ["A-R1"])]))
    assert rule_hits(errors, "holds one household"), errors


def test_shared_room_capacity() -> None:
    prob = problem(
        [shelter("A", rooms=[room("A-D1", 2, shared=True, sex="F")])],
        [household(f"H{i}") for i in range(3)],
    )
    plan = solve(prob)
    assert len(plan.assignments) == 2
    assert all(a.rooms == ["A-D1"] for a in plan.assignments)
    errors = check(prob, forged(prob, [(f"H{i}", "A", ["A-D1"]) for i in range(3)]))
    assert rule_hits(errors, "3 people for 2 free beds"), errors


def test_cribs_take_babies() -> None:
    """1 bed + 1 crib fits a mother and a baby of 1 (not a child of 4: see above)."""
    prob = problem(
        [shelter("A", rooms=[room("A-R1", 1, cribs=1)])],
        [household("H", members=[member(30, "F"), member(1, "M")])],
    )
    plan = solve(prob)
    assert placed(plan)["H"].rooms == ["A-R1"]
    assert check(prob, plan) == []


@pytest.mark.parametrize("max_rooms", [1, 2])
def test_max_rooms_per_household(max_rooms: int) -> None:
    family = [member(30, "F"), member(35, "M"), member(8, "F"), member(6, "M")]
    prob = problem(
        [shelter("A", rooms=[room("A-R1", 2), room("A-R2", 2)])],
        [household("H", members=family)],
        max_rooms_per_household=max_rooms,
    )
    plan = solve(prob)
    assert check(prob, plan) == []
    if max_rooms == 1:
        assert plan.assignments == [] and plan.unplaced[0].code == "no_room_fits"
        errors = check(prob, forged(prob, [("H", "A", ["A-R1", "A-R2"])]))
        assert rule_hits(errors, "max_rooms_per_household"), errors
    else:
        assert sorted(placed(plan)["H"].rooms) == ["A-R1", "A-R2"]


def test_keep_apart_same_shelter() -> None:
    prob = problem(
        [shelter("A", rooms=[room("A-R1", 1), room("A-R2", 1)])],
        [household("V", priority=4, keep_apart=[{"household": "P", "km": 0}]), household("P")],
    )
    plan = solve(prob)
    assert set(placed(plan)) == {"V"}
    assert plan.unplaced[0].code == "capacity_taken"
    assert "rule 8" in plan.unplaced[0].detail
    errors = check(prob, forged(prob, [("V", "A", ["A-R1"]), ("P", "A", ["A-R2"])]))
    assert rule_hits(errors, "rule 8"), errors


@pytest.mark.parametrize(("gap_km", "both"), [(5.0, False), (15.0, True)])
def test_keep_apart_distance(gap_km: float, both: bool) -> None:
    """Declared by the other side (P declares V): a pair counts whichever side declares it."""
    prob = problem(
        [
            shelter("A", km=0, rooms=[room("A-R1", 1)]),
            shelter("B", km=gap_km, rooms=[room("B-R1", 1)]),
        ],
        [household("V", priority=4), household("P", keep_apart=[{"household": "V", "km": 10}])],
    )
    plan = solve(prob)
    assert check(prob, plan) == []
    assert ("P" in placed(plan)) is both
    if not both:
        errors = check(prob, forged(prob, [("V", "A", ["A-R1"]), ("P", "B", ["B-R1"])]))
        assert rule_hits(errors, "rule 8"), errors


def test_check_flags_contract_errors() -> None:
    prob = problem([shelter("A")], [household("H1"), household("H2"), household("H3")])
    plan = forged(prob, [("H1", "A", ["A-R1"])])
    plan.unplaced = [u for u in plan.unplaced if u.household != "H3"]  # H3 missing
    plan.unplaced = [u for u in plan.unplaced if u.household != "H2"]
    plan.assignments.append(Assignment(household="H2", shelter="A", rooms=["A-R9"], km=0))
    plan.assignments.append(Assignment(household="HX", shelter="A", rooms=["A-R1"], km=0))
    plan.assignments[0].km = 12.0
    errors = check(prob, plan)
    for needle in ("H3 is missing", "unknown household 'HX'", "km reported 12", "A-R9"):
        assert rule_hits(errors, needle), (needle, errors)
