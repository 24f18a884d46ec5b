"""The lexicographic objective (``allocation.model.objectives``), level by level."""

from __future__ import annotations

from allocation import check, solve

from ..builders import household, member, problem, room, shelter


def where(plan):
    return {a.household: a for a in plan.assignments}


FAMILY3 = [member(30, "F"), member(8, "F"), member(6, "M")]


def test_priority_4_single_woman_beats_priority_3_family() -> None:
    prob = problem(
        [shelter("A", rooms=[room("A-R1", 3)])],
        [household("W", priority=4), household("F", members=FAMILY3, priority=3)],
    )
    plan = solve(prob)
    assert set(where(plan)) == {"W"}
    assert plan.status == "optimal" and check(prob, plan) == []


def test_more_people_win_within_a_tier() -> None:
    prob = problem(
        [shelter("A", rooms=[room("A-R1", 3)])],
        [
            household("W", waiting_since="2026-11-28T10:00:00+01:00"),
            household("F", members=FAMILY3),
        ],
    )
    assert set(where(solve(prob))) == {"F"}


def test_longer_waiting_wins_among_equals() -> None:
    prob = problem(
        [shelter("A", rooms=[room("A-R1", 1)])],
        [
            household("NEW", waiting_since="2026-11-28T22:00:00+01:00", km=0),
            household("OLD", waiting_since="2026-11-28T19:00:00+01:00", km=30),
        ],
    )
    plan = solve(prob)
    assert set(where(plan)) == {"OLD"}
    assert plan.unplaced[0].code == "capacity_taken"


def test_fewer_km_win_among_equals() -> None:
    prob = problem(
        [
            shelter("FAR", km=20, rooms=[room("F-R1", 1)]),
            shelter("NEAR", km=5, rooms=[room("N-R1", 1)]),
        ],
        [household("H")],
    )
    plan = solve(prob)
    assert where(plan)["H"].shelter == "NEAR"
    assert abs(where(plan)["H"].km - 5.0) <= 0.05


def test_fewer_total_km_between_two_households() -> None:
    prob = problem(
        [shelter("A", km=0, rooms=[room("A-R1", 1)]), shelter("B", km=50, rooms=[room("B-R1", 1)])],
        [household("H0", km=0), household("H50", km=50)],
    )
    plan = solve(prob)
    assert where(plan)["H0"].shelter == "A" and where(plan)["H50"].shelter == "B"


def test_language_breaks_ties() -> None:
    prob = problem(
        [
            shelter("FR", km=5, languages=["fr"], rooms=[room("FR-R1", 1)]),
            shelter("AR", km=5, languages=["fr", "ar"], rooms=[room("AR-R1", 1)]),
        ],
        [household("H", needs={"language": "ar"})],
    )
    assert where(solve(prob))["H"].shelter == "AR"


def test_fewest_wasted_beds_break_ties() -> None:
    prob = problem(
        [shelter("A", rooms=[room("A-BIG", 5), room("A-SMALL", 2)])],
        [household("H")],
    )
    plan = solve(prob)
    assert where(plan)["H"].rooms == ["A-SMALL"]
    assert plan.objective.wasted_beds == 1
