"""The search's budget (``allocation.search.budget``): the wall clock caps every mode.

Load-independent: the budget's decisions are checked against its own deadline, not by
timing a run (the suite, ``benchmarks/engine.py --suite``, measures the wall time of whole
``solve`` calls on a quiet machine).
"""

from __future__ import annotations

import time

from ortools.sat.python import cp_model

from allocation import DEFAULT_PARAMS, check, solve
from allocation.search import Budget
from allocation.tools.generate import generate_problem


def _budget(deterministic: bool, left_s: float) -> Budget:
    return Budget(deterministic, time.perf_counter() + left_s, det_total=4.0)


def test_a_stage_never_gets_more_wall_time_than_is_left() -> None:
    for deterministic in (False, True):
        budget = _budget(deterministic, 5.0)
        solver = cp_model.CpSolver()
        assert budget.params(solver, 0.5, 0.25, seed=3, workers=2)
        # Wall mode: its share of what is left; deterministic mode: all that is left, as a
        # cap only (the work budget ends the stage).
        assert 0 < solver.parameters.max_time_in_seconds <= 5.0
        assert solver.parameters.random_seed == 3
        if deterministic:
            assert solver.parameters.max_deterministic_time == 4.0 * 0.25
            assert solver.parameters.num_workers == 1  # one worker: reproducible
        else:
            assert solver.parameters.max_time_in_seconds <= 0.5 * 5.0


def test_no_stage_starts_past_the_deadline_and_deterministic_mode_says_so() -> None:
    for deterministic in (False, True):
        budget = _budget(deterministic, -0.1)
        assert not budget.params(cp_model.CpSolver(), 1.0, 1.0, seed=0, workers=2)
        # A replay on a quieter machine may run that stage: the plan depends on the clock.
        assert budget.cut_by_wall is deterministic


def test_a_deterministic_run_the_clock_cuts_is_flagged() -> None:
    # 0.1 s cannot even prepare a département's model: the stages are cut by the clock,
    # and the plan (the greedy one, valid) says it may not replay.
    gen = generate_problem(150, 600, seed=0, region="hainaut")
    st = gen.settings.model_copy(update={"deterministic": True, "time_limit_s": 0.1})
    prob = gen.model_copy(update={"settings": st})
    plan = solve(prob)
    assert check(prob, plan) == []
    assert plan.stats.deterministic_cut_by_wall_clock is True
    assert plan.assignments  # the greedy plan, not nothing


def test_the_deterministic_work_budget_comes_from_the_problem_alone() -> None:
    """The same problem gets the same budget on any machine; a bigger model (more wall
    time outside CP-SAT) gets less work, a huge one the least, never none."""
    prm = DEFAULT_PARAMS
    problem = generate_problem(10, 40, seed=1, time_limit_s=10)
    sizes = ((2_000, 5_000), (60_000, 170_000), (60_000, 870_000), (10**7, 10**8))
    budgets = []
    for candidates, nonzeros in sizes:
        budget = _budget(True, 5.0)
        budget.size_work(problem, prm, candidates, nonzeros)
        budgets.append(budget.det_total)
    assert prm.det_budget_share * 10 >= budgets[0] > budgets[1] > budgets[2] > budgets[3]
    assert budgets[3] == prm.det_budget_min_share * 10
    again = _budget(True, 0.5)  # less wall time left: the budget does not ask the clock
    again.size_work(problem, prm, *sizes[1])
    assert again.det_total == budgets[1]


def test_a_deterministic_run_spends_at_most_its_work_budget_km_stage_included() -> None:
    gen = generate_problem(40, 160, seed=2, region="nord")
    st = gen.settings.model_copy(update={"deterministic": True, "time_limit_s": 4})
    prob = gen.model_copy(update={"settings": st})
    plan = solve(prob)
    assert plan.stats.deterministic_cut_by_wall_clock is False
    km = [s for s in plan.stats.stages if s.name == "km-fixed-set"]
    assert km and km[0].work is not None  # the km stage's solves are counted too
    spent = sum(s.work or 0.0 for s in plan.stats.stages)
    # The largest budget this problem can get (no row counted as a cost).
    budget = _budget(True, 5.0)
    budget.size_work(prob, DEFAULT_PARAMS, plan.stats.candidates, 0)
    assert spent <= budget.det_total * 1.1  # CP-SAT may overrun a limit a little
