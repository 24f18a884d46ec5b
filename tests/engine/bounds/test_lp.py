"""The tier LP (``allocation.bounds.TierLP``): a valid bound, exact when integral, its other
optimal vertices."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from allocation import solve
from allocation.bounds import TierLP
from allocation.models import Problem

from ..builders import WOMAN, household, member, model_lp, problem, room, shelter
from ..test_solver_properties import brute_level1, problems


def _lp(prob: Problem) -> TierLP:
    return model_lp(prob)[2]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_h=3, max_s=2))
def test_lp_bound_is_above_the_lexicographic_optimum(prob: Problem) -> None:
    best = dict(zip((4, 3, 2, 1), brute_level1(prob), strict=True))
    lp = _lp(prob)
    pins: dict[int, int] = {}
    for t in (4, 3, 2, 1):
        b = lp.maximise_tier(t, pins)
        assert b is not None and b >= best[t]
        pins[t] = best[t]  # the optimum's own values above: still feasible for the LP


def test_lp_bound_is_exact_on_an_integral_problem() -> None:
    # Two rooms of 2 beds, three couples of priority 3 and one single of priority 4:
    # the LP optimum is integral and equals the true one.
    couple = [member(30, "F"), member(31, "M")]
    prob = problem(
        [shelter("A", rooms=[room("A1", 2), room("A2", 2)])],
        [household(f"C{i}", couple, priority=3) for i in range(3)]
        + [household("W", WOMAN, priority=4)],
        max_rooms_per_household=1,
    )
    lp = _lp(prob)
    assert lp.maximise_tier(4, {}) == 1
    assert lp.maximise_tier(3, {4: 1}) == 2
    plan = solve(prob)
    assert plan.status == "optimal"
    assert plan.bound.people_placed_by_priority == {"4": 1, "3": 2, "2": 0, "1": 0}


def test_other_optimal_lp_solutions_include_the_nearest_one() -> None:
    # One woman, two single rooms: the LP may put her in either (both optimal for level
    # 1). The extra vertices searched by the engine start with the least-km one, so the
    # nearer shelter's candidate is always among them.
    far, near = (
        shelter("FAR", km=10, rooms=[room("F1", 1)]),
        shelter("NEAR", km=1, rooms=[room("N1", 1)]),
    )
    prob = problem([far, near], [household("W", WOMAN, priority=4)])
    prep, _, lp = model_lp(prob)
    assert lp.maximise_tier(4, {}) == 1
    found = lp.optimal_supports(4, prep.cands.km, 1, seed=0)
    assert {prob.shelters[prep.cands.s[v]].id for v in found} == {"NEAR"}
    assert not lp.cut_short
