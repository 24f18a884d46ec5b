"""The suite's fixtures and its independent oracle (``benchmarks/suite``).

The oracle (our own HiGHS MIP of the spec) is checked three ways: on hand-made nights where
one rule decides the answer, against the shared examples' optima (computed by another
independent MIP), and by re-deriving the stored optimum of a sample of small nights. The
stored fixtures are checked for consistency, and one engine plan is checked to be valid and
never better than the stored optimum (which would mean a bug in one of the two).
Cost: ~10-20 s on a quiet 2-core machine (the oracle on three small nights, one 3 s solve).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from allocation import Problem, check, solve
from benchmarks.suite.nights import MANIFEST, NIGHTS_DIR, load_manifest, load_night
from benchmarks.suite.oracle import OPTIMA, km_lower_bound, level1_optimum
from benchmarks.suite.runner import level1_versus, select

ORIGIN = {"lat": 50.36, "lon": 3.52}


def shelter(sid: str, rooms: list[dict[str, Any]], **flags: Any) -> dict[str, Any]:
    base = {"id": sid, "lat": 50.36, "lon": 3.52, "women": True, "men": True, "children": True}
    return {**base, **flags, "rooms": rooms}


def household(hid: str, members: list[tuple[int, str]], priority: int = 2, **extra: Any):
    return {
        "id": hid,
        "priority": priority,
        "waiting_since": "2026-11-28T20:00:00+01:00",
        "origin": ORIGIN,
        "members": [{"age": a, "sex": s} for a, s in members],
        **extra,
    }


def optimum(shelters: list[dict[str, Any]], households: list[dict[str, Any]]) -> dict[str, int]:
    problem = Problem.model_validate({"shelters": shelters, "households": households})
    result = level1_optimum(problem, time_limit_s=20)
    assert result["proven"]
    return {k: v for k, v in result["level1"].items() if v}


# --- the oracle on nights where one rule decides ----------------------------------------------


def test_cribs_count_only_for_children_under_three() -> None:
    rooms = [{"id": "R1", "beds": 1, "cribs": 1}]
    baby = household("H1", [(30, "F"), (1, "F")], priority=3)
    child = household("H2", [(30, "F"), (4, "F")], priority=4)
    assert optimum([shelter("S1", rooms)], [baby, child]) == {"3": 2}


def test_two_rooms_at_most_and_one_household_per_room() -> None:
    rooms = [{"id": f"R{k}", "beds": 2} for k in range(3)]
    family = household("H1", [(40, "F"), (41, "M"), (12, "M"), (10, "F"), (8, "M")], priority=4)
    pair = household("H2", [(30, "F"), (31, "M")], priority=1)
    # 5 people need 3 rooms of 2 beds: over max_rooms_per_household (2), so only the pair.
    assert optimum([shelter("S1", rooms)], [family, pair]) == {"1": 2}


def test_shared_rooms_take_single_adults_of_their_sex_only() -> None:
    rooms = [{"id": "D1", "beds": 3, "shared": True, "sex": "F"}]
    hh = [
        household("H1", [(30, "F")]),
        household("H2", [(30, "M")], priority=4),
        household("H3", [(30, "F"), (2, "M")], priority=4),
        household("H4", [(50, "F")]),
    ]
    assert optimum([shelter("S1", rooms)], hh) == {"2": 2}


def test_eligibility_boys_age_needs_and_wheelchair_rooms() -> None:
    s = shelter(
        "S1",
        [{"id": "R1", "beds": 3}, {"id": "R2", "beds": 1, "wheelchair": True}],
        men=False,
        max_boy_age=12,
        wheelchair=True,
    )
    hh = [
        household("H1", [(35, "F"), (14, "M")], priority=4),  # boy too old
        household("H2", [(35, "M")], priority=4),  # no men
        household("H3", [(35, "F")], priority=4, needs={"dv_specialised": True}),
        household("H4", [(35, "F"), (6, "M")], priority=3, needs={"wheelchair": True}),
        household("H5", [(35, "F"), (9, "M")], priority=2),
    ]
    # H4 needs a wheelchair room: the only one has 1 bed. H5 (boy of 9) fits in R1.
    assert optimum([s], hh) == {"2": 2}


def test_distance_zones_and_exclusions() -> None:
    far = {**shelter("FAR", [{"id": "F1", "beds": 1}]), "lat": 51.36}  # ~111 km north
    near = shelter("NEAR", [{"id": "N1", "beds": 1}])
    hh = [
        household("H1", [(30, "F")], priority=4, max_km=50, excluded_shelters=["NEAR"]),
        household("H2", [(30, "F")], priority=4, avoid=[{**ORIGIN, "km": 5}]),
        household("H3", [(30, "F")], priority=1),
    ]
    # H1 may use neither shelter; H2 not NEAR (zone) but FAR; H3 takes NEAR.
    assert optimum([far, near], hh) == {"4": 1, "1": 1}


def test_position_margin_widens_zones_and_keep_apart() -> None:
    a = {**shelter("A", [{"id": "A1", "beds": 1}]), "lat": 50.405}  # ~5 km from ORIGIN
    b = {**shelter("B", [{"id": "B1", "beds": 1}]), "lat": 50.495}  # ~10 km from A
    zone = [{**ORIGIN, "km": 4.5}]
    hh = [
        household("H1", [(30, "F")], priority=4, avoid=zone),
        household("H2", [(40, "M")], priority=3, keep_apart=[{"household": "H1", "km": 9.5}]),
    ]
    assert optimum([a, b], hh) == {"4": 1, "3": 1}
    a["margin_km"] = 1.0  # A may lie inside the zone, and within 9.5 km of B
    assert optimum([a, b], hh) == {"4": 1}


def test_keep_apart_by_distance_either_side_declares() -> None:
    a = shelter("A", [{"id": "A1", "beds": 1}, {"id": "A2", "beds": 1}])
    b = {**shelter("B", [{"id": "B1", "beds": 1}]), "lat": 50.45}  # ~10 km from A
    hh = [
        household("H1", [(30, "F")], priority=4),
        household("H2", [(40, "M")], priority=3, keep_apart=[{"household": "H1", "km": 20}]),
        household("H3", [(30, "F")], priority=2),
    ]
    # H2 cannot be within 20 km of H1 (both shelters are): H1 and H3 placed, H2 not.
    assert optimum([a, b], hh) == {"4": 1, "2": 1}
    hh[1]["keep_apart"][0]["km"] = 5  # B is far enough now
    assert optimum([a, b], hh) == {"4": 1, "3": 1, "2": 1}


def test_lexicographic_priority_beats_head_count() -> None:
    rooms = [{"id": "R1", "beds": 4}]
    hh = [household("H1", [(30, "F")], priority=4), household("H2", [(30, "F")] * 4)]
    assert optimum([shelter("S1", rooms)], hh) == {"4": 1}


def test_km_lower_bound_is_the_least_km_for_the_placed_set() -> None:
    near = shelter("NEAR", [{"id": "N1", "beds": 1}])
    far = {**shelter("FAR", [{"id": "F1", "beds": 1}]), "lat": 50.46}  # ~11 km
    hh = [household("H1", [(30, "F")]), household("H2", [(30, "M")])]
    problem = Problem.model_validate({"shelters": [near, far], "households": hh})
    one = km_lower_bound(problem, ["H1"])
    both = km_lower_bound(problem, ["H1", "H2"])
    assert one["proven"] and one["lower_bound_km"] == pytest.approx(0.0, abs=1e-6)
    assert both["proven"] and both["lower_bound_km"] == pytest.approx(11.1, abs=0.2)


# --- the fixtures -----------------------------------------------------------------------------


def test_manifest_lists_every_night_and_the_suite_is_large_enough() -> None:
    nights = load_manifest()
    files = {p.name for p in NIGHTS_DIR.glob("*.json")}
    assert files == {f"{n['name']}.json" for n in nights}
    departement = [n for n in nights if n["size"] == "departement"]
    assert len(departement) >= 20
    assert all(n["shelters"] >= 150 and n["households"] == 600 for n in departement)


def test_every_night_has_a_stored_optimum_that_is_consistent() -> None:
    optima = json.loads(OPTIMA.read_text())["nights"]
    nights = load_manifest()
    assert set(optima) <= {n["name"] for n in nights}
    assert {n["name"] for n in nights if n["size"] == "small"} <= set(optima)
    for name, opt in optima.items():
        assert opt["solver"].startswith("HiGHS"), name
        for stage in opt["stages"]:
            assert stage["bound"] >= stage["value"], name
            if stage["proven"]:
                assert stage["bound"] == stage["value"], name


def test_oracle_agrees_with_the_shared_examples_independent_optima() -> None:
    optima = json.loads(OPTIMA.read_text())["nights"]
    checked = [n for n in load_manifest() if "expected_level1" in n]
    assert checked
    for n in checked:
        assert optima[n["name"]]["proven"]
        assert optima[n["name"]]["level1"] == {k: v for k, v in n["expected_level1"].items()}


@pytest.mark.parametrize("name", ["crib-rooms", "example-nord-small", "small-idf-3"])
def test_stored_optimum_re_derived(name: str) -> None:
    stored = json.loads(OPTIMA.read_text())["nights"][name]
    again = level1_optimum(load_night(name), time_limit_s=60)
    assert again["proven"] and stored["proven"]
    assert again["level1"] == stored["level1"]


def test_engine_plan_is_valid_and_never_beats_the_stored_optimum() -> None:
    problem = load_night("small-idf-3")
    settings = problem.settings.model_copy(update={"time_limit_s": 3, "deterministic": True})
    plan = solve(problem.model_copy(update={"settings": settings}))
    assert check(problem, plan) == []
    stored = json.loads(OPTIMA.read_text())["nights"]["small-idf-3"]["level1"]
    _, sign = level1_versus(plan.objective.people_placed_by_priority, stored)
    assert sign <= 0
    lb = km_lower_bound(problem, [a.household for a in plan.assignments])
    assert lb["lower_bound_km"] <= plan.objective.total_km + 0.1 * len(plan.assignments)


def test_unknown_night_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no-such-night"):
        select("hainaut-1,no-such-night")
    assert select("hainaut-1, crib-rooms") == ["hainaut-1", "crib-rooms"]
    assert MANIFEST.exists()
