"""The lexicographic objective and the unplaced reasons."""

from __future__ import annotations

from allocation import check, household_options, solve

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


def test_no_eligible_shelter_detail_names_numbers() -> None:
    boy = [member(35, "F"), member(15, "M")]
    prob = problem(
        [
            shelter("W1", km=5, men=False, max_boy_age=12),
            shelter("W2", km=8, max_boy_age=10),
            shelter("FAR1", km=52),
            shelter("FAR2", km=70),
        ],
        [household("H", members=boy, max_km=40)],
    )
    plan = solve(prob)
    u = plan.unplaced[0]
    assert u.code == "no_eligible_shelter"
    assert "2 refuse a boy aged 15" in u.detail
    assert "2 are beyond 40 km (nearest 52.0 km)" in u.detail
    assert "W1" in u.detail  # the nearest near miss
    opts = household_options(prob, "H")
    assert opts.options == [] and opts.code == "no_eligible_shelter"
    assert opts.ruled_out["max_km"] == 2 and opts.ruled_out["max_boy_age"] == 2


def test_no_room_fits_detail_names_numbers() -> None:
    seven = [member(35, "F"), member(36, "M")] + [member(a, "F") for a in (1, 4, 6, 9, 12)]
    prob = problem(
        [
            shelter("A", km=5, rooms=[room("A-R1", 5, cribs=1)]),
            shelter("B", km=9, rooms=[room("B-R1", 3), room("B-R2", 1)]),
            shelter("C", km=12, rooms=[room("C-D1", 9, shared=True, sex="F")]),
        ],
        [household("H", members=seven, max_km=80)],
        max_rooms_per_household=1,
    )
    u = solve(prob).unplaced[0]
    assert u.code == "no_room_fits"
    assert u.detail.startswith("3 shelters pass eligibility and safety within 80 km")
    assert "7 people" in u.detail and "largest: 5 beds + 1 crib" in u.detail


def test_capacity_taken_and_options() -> None:
    prob = problem(
        [shelter("A", km=3, rooms=[room("A-R1", 1)])],
        [household("URGENT", priority=4), household("LATER", priority=1)],
    )
    plan = solve(prob)
    u = plan.unplaced[0]
    assert u.household == "LATER" and u.code == "capacity_taken"
    assert "1 shelter could take this household alone (nearest A at 3.0 km)" in u.detail
    opts = household_options(prob, "LATER")
    assert opts.code is None and opts.options[0].shelter == "A"
    assert opts.options[0].rooms == ["A-R1"]


def test_options_best_first() -> None:
    prob = problem(
        [
            shelter("FAR", km=30, rooms=[room("FAR-R1", 2)]),
            shelter("NEAR", km=2, rooms=[room("NEAR-R1", 4), room("NEAR-R2", 2)]),
            shelter("NO", km=1, women=False),
        ],
        [household("H", members=[member(30, "F"), member(2, "M")])],
    )
    opts = household_options(prob, "H")
    assert [o.shelter for o in opts.options] == ["NEAR", "FAR"]
    assert opts.options[0].rooms == ["NEAR-R2"]
    assert opts.ruled_out["women"] == 1
