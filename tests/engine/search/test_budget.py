"""The search's budget (``allocation.search.budget``): the wall clock caps every mode."""

from __future__ import annotations

import time

from allocation import check, solve
from allocation.tools.generate import generate_problem


def test_deterministic_mode_respects_the_wall_clock() -> None:
    gen = generate_problem(150, 600, seed=0, region="hainaut")
    st = gen.settings.model_copy(update={"deterministic": True, "time_limit_s": 3})
    prob = gen.model_copy(update={"settings": st})
    t0 = time.perf_counter()
    plan = solve(prob)
    wall = time.perf_counter() - t0
    # Generous margin (CI machine, plan building): the cap is the point, not the speed.
    assert wall < 3 + 2.0
    assert check(prob, plan) == []
    assert isinstance(plan.stats.deterministic_cut_by_wall_clock, bool)
