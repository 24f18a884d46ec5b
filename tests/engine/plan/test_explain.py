"""Unplaced reasons (``allocation.plan.explain``): codes and details judged for the
household alone."""

from __future__ import annotations

from allocation import household_options, solve

from ..builders import household, member, problem, room, shelter


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
