"""A shelter known only to within ``margin_km`` (a confidential shelter at its cell centre).

Rules 6 and 8 must hold for every point where the shelter may really be; each case is built
so that judging the centre alone would pick the forbidden shelter (margin 0 is the control).
"""

from __future__ import annotations

import pytest

from allocation import check, household_options, solve
from allocation.geo import haversine_km
from allocation.rules import keep_apart_ok
from allocation.tools.baselines import greedy_fcfs

from .builders import household, north, problem, room, shelter
from .test_rules import forged, placed, rule_hits

ZONE_KM = 3.0
ZONE = north(7.0)  # a safety zone of 3 km around a point 7 km north of the origin
CENTRE_KM = 3.0  # where shelter A is shown: 4 km from the zone's centre, outside it
TRUE_KM = 4.5  # where A really is: 2.5 km from the zone's centre, inside it


def _zone_night(margin_km: float):
    return problem(
        [
            shelter("A", km=CENTRE_KM, rooms=[room("A-R1", 1)], margin_km=margin_km),
            shelter("B", km=-10.0, rooms=[room("B-R1", 1)]),
        ],
        [household("V", avoid=[{"lat": ZONE[0], "lon": ZONE[1], "km": ZONE_KM}])],
    )


def test_the_true_position_is_inside_the_zone_and_the_centre_is_not() -> None:
    lat, lon = north(CENTRE_KM)
    true_lat, true_lon = north(TRUE_KM)
    assert haversine_km(*ZONE, lat, lon) > ZONE_KM > haversine_km(*ZONE, true_lat, true_lon)
    assert haversine_km(lat, lon, true_lat, true_lon) <= 2.0  # within the margin below


@pytest.mark.parametrize(("margin_km", "refused"), [(0.0, False), (2.0, True)])
def test_avoid_zone_is_judged_over_the_whole_margin(margin_km: float, refused: bool) -> None:
    prob = _zone_night(margin_km)
    plan = solve(prob)
    assert placed(plan)["V"].shelter == ("B" if refused else "A")
    assert check(prob, plan) == []
    opts = household_options(prob, "V")
    assert [o.shelter for o in opts.options] == (["B"] if refused else ["A", "B"])
    assert opts.ruled_out["avoid"] == int(refused)
    if refused:
        errors = check(prob, forged(prob, [("V", "A", ["A-R1"])]))
        assert rule_hits(errors, "may lie inside one of the household's safety zones"), errors


def _apart_night(margin_km: float):
    """V and P kept 10 km apart; A and B are 12 km apart between their shown positions."""
    return problem(
        [
            shelter("A", km=0.0, rooms=[room("A-R1", 1)], margin_km=margin_km),
            shelter("B", km=12.0, rooms=[room("B-R1", 1)], margin_km=margin_km),
        ],
        [
            household("V", priority=4),
            household("P", keep_apart=[{"household": "V", "km": 10}]),
        ],
    )


@pytest.mark.parametrize(("margin_km", "both"), [(0.0, True), (0.9, True), (1.1, False)])
def test_keep_apart_adds_both_margins(margin_km: float, both: bool) -> None:
    """12 km ≥ 10 + 2×0.9 holds; 12 < 10 + 2×1.1 may put them closer than 10 km."""
    prob = _apart_night(margin_km)
    for plan in (solve(prob), greedy_fcfs(prob)):
        assert check(prob, plan) == []
        assert set(placed(plan)) == ({"V", "P"} if both else {"V"})
    a, b = prob.shelters
    assert keep_apart_ok(a, b, 10) is both
    if not both:
        errors = check(prob, forged(prob, [("V", "A", ["A-R1"]), ("P", "B", ["B-R1"])]))
        assert rule_hits(errors, "position margin) (rule 8)"), errors


def test_max_km_and_km_are_measured_from_the_shown_position() -> None:
    """Rule 5 and the plan's km use (lat, lon): the answer depends on the shown cell only."""
    prob = problem(
        [shelter("A", km=4.9, rooms=[room("A-R1", 1)], margin_km=3.0)],
        [household("V", max_km=5)],
    )
    plan = solve(prob)
    assert placed(plan)["V"].km == 4.9
    assert check(prob, plan) == []
