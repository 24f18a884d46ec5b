"""Level 1's reported bounds (``allocation.bounds.TierBounds``): honest on pruned models."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings

from allocation import DEFAULT_PARAMS, check, solve
from allocation.models import Problem

from ..builders import WOMAN, household, problem, room, shelter
from ..test_solver_properties import brute_level1, problems


def test_pruned_problem_certified_by_its_bound_is_optimal() -> None:
    # Plenty of room: everybody fits, so the bound (everyone who fits alone) certifies the
    # plan even though the model kept only the nearest shelters per household.
    shelters = [
        shelter(f"S{j}", km=j, rooms=[room(f"S{j}-R{k}", 4) for k in range(4)]) for j in range(8)
    ]
    hs = [household(f"H{i}", WOMAN, priority=1 + i % 4) for i in range(6)]
    prob = problem(shelters, hs)
    plan = solve(prob, params=replace(DEFAULT_PARAMS, max_candidates=8))
    assert check(prob, plan) == []
    assert plan.stats.pruned is True
    assert plan.status == "optimal"
    assert plan.bound.people_placed_by_priority == plan.objective.people_placed_by_priority
    assert len(plan.assignments) == 6


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_h=4, max_s=3))
def test_bound_of_a_pruned_model_stays_valid(prob: Problem) -> None:
    # Keep one shelter per household: the model is a restriction, its own LP bounds only
    # the model, and the reported bound comes from the Lagrangian pricing of every pair.
    # Whatever the plan, the bound at the first tier where it falls short of the true
    # lexicographic optimum must still be at least that optimum; "optimal" must be true.
    plan = solve(prob, params=replace(DEFAULT_PARAMS, max_candidates=2, min_nearest=1))
    assert check(prob, plan) == []
    best = dict(zip((4, 3, 2, 1), brute_level1(prob), strict=True))
    placed = {int(k): v for k, v in plan.objective.people_placed_by_priority.items()}
    bound = {int(k): v for k, v in plan.bound.people_placed_by_priority.items()}
    if plan.status == "optimal":
        assert placed == best
    for t in (4, 3, 2, 1):
        if placed[t] != best[t]:
            assert bound[t] >= best[t]
            break
