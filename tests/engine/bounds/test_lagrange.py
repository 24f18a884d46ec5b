"""The Lagrangian bound of a pruned model (``allocation.bounds.lagrange``)."""

from __future__ import annotations

import math

from allocation.bounds import model_lagrangian_bound
from allocation.models import Problem
from allocation.tools.generate import generate_problem

from ..builders import WOMAN, household, model_lp, problem, room, shelter


def _lagrange(
    prob: Problem, max_candidates: int, t: int, pins: dict[int, int], min_nearest: int = 4
) -> tuple[int, float]:
    """(floored LP of the possibly pruned model, Lagrangian bound over every pair)."""
    prep, rows, lp = model_lp(prob, max_candidates, min_nearest)
    value = lp.maximise_tier(t, pins)
    assert value is not None
    bound = model_lagrangian_bound(prob, prep, rows, lp, pins, t)
    return value, bound


def test_lagrangian_bound_equals_the_lp_on_an_unpruned_model() -> None:
    # Strong duality: with the LP's own optimal duals and no pair left out, the
    # Lagrangian bound is the LP value (a wrong dual sign would break this).
    gen = generate_problem(12, 40, seed=3, region="hainaut")
    value, bound = _lagrange(gen, 10**9, 3, {})
    assert abs(bound - value) < 1e-6 or math.floor(bound + 1e-6) == value
    value4, bound4 = _lagrange(gen, 10**9, 2, {4: 0, 3: 0})
    assert math.floor(bound4 + 1e-6) == value4


def test_lagrangian_bound_counts_the_shelters_a_pruned_model_left_out() -> None:
    # Two women, two single rooms; the model keeps only the nearest shelter per household,
    # so its own LP says 1. Priced over every pair, the bound covers the true optimum, 2.
    near = shelter("NEAR", km=1, rooms=[room("N1", 1)])
    far = shelter("FAR", km=5, rooms=[room("F1", 1)])
    prob = problem([near, far], [household(f"W{i}", WOMAN, priority=4) for i in range(2)])
    value, bound = _lagrange(prob, 2, 4, {}, min_nearest=1)
    assert value == 1
    assert bound >= 2
