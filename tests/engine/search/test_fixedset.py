"""Levels 3-4 on the placed set: the least total km for the plan's own households."""

from __future__ import annotations

import itertools
import math
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ortools.sat.python import cp_model

from allocation import Problem, check, check_assignment, solve
from allocation.model import Row
from allocation.search.fixedset import FixedSetInput, FixedSetResult, settle_fixed_set


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def _night(seed: int) -> Problem:
    """4 shelters of 3 private rooms, 6 families, everything in range: km decides."""
    rnd = random.Random(seed)
    t0 = datetime(2026, 12, 1, 20, tzinfo=UTC)
    shelters = [
        {
            "id": f"S{j}",
            "lat": 50.5 + rnd.random() * 0.3,
            "lon": 3.0 + rnd.random() * 0.3,
            "women": True,
            "men": True,
            "children": True,
            "rooms": [
                {"id": f"S{j}r{k}", "beds": rnd.randint(1, 4), "cribs": rnd.randint(0, 1)}
                for k in range(3)
            ],
        }
        for j in range(4)
    ]
    households = [
        {
            "id": f"h{i}",
            "priority": rnd.randint(1, 4),
            "waiting_since": (t0 - timedelta(minutes=rnd.randint(0, 600))).isoformat(),
            "origin": {"lat": 50.5 + rnd.random() * 0.3, "lon": 3.0 + rnd.random() * 0.3},
            "members": [{"age": 30, "sex": "F"}]
            + [{"age": rnd.choice([1, 6, 12]), "sex": "M"} for _ in range(rnd.randint(1, 3))],
        }
        for i in range(6)
    ]
    return Problem.model_validate(
        {
            "settings": {"time_limit_s": 5, "max_rooms_per_household": 1},
            "shelters": shelters,
            "households": households,
        }
    )


def _least_km(prob: Problem, placed: list[str]) -> float:
    """Brute force: every way to give the placed households distinct valid rooms."""
    by_id = {h.id: h for h in prob.households}
    options: list[list[tuple[str, float]]] = []
    for hid in placed:
        h = by_id[hid]
        opts = [
            (r.id, _km(h.origin.lat, h.origin.lon, s.lat, s.lon))
            for s in prob.shelters
            for r in s.rooms
            if not check_assignment(prob, hid, s.id, [r.id])
        ]
        options.append(sorted(opts, key=lambda o: o[1]))
    best = math.inf
    for combo in itertools.product(*options):
        rooms = [r for r, _ in combo]
        if len(set(rooms)) == len(rooms):
            best = min(best, sum(km for _, km in combo))
    return best


@pytest.mark.parametrize("seed", range(4))
def test_plan_km_is_the_least_for_its_placed_households(seed: int) -> None:
    prob = _night(seed)
    plan = solve(prob)
    assert check(prob, plan) == []
    placed = [a.household for a in plan.assignments]
    assert placed
    least = _least_km(prob, placed)
    # Plan km are rounded to 0.1 km per household.
    assert plan.objective.total_km <= least + 0.05 * len(placed) + 1e-9
    # The reported lower bound is one (up to the model's 0.01 km rounding per household).
    assert plan.stats.km_lower_bound <= least + 0.005 * len(placed) + 1e-9


# --- the stage on hand-made inputs --------------------------------------------------------


def _two_households(deadline_s: float = 30.0) -> tuple[FixedSetInput, float]:
    """Households 0 and 1, each near (km 1) or far (km 5); rule 8 forbids both near."""
    keep_apart = Row(vars=[0, 2], coeffs=[1, 1], ub=1, keep_apart=True, key=("keep_apart",))
    data = FixedSetInput(
        placed=[[0, 1], [2, 3]],
        current=[1, 3],
        rows=[keep_apart],
        km=[100, 500, 100, 500],
        fit=[0, 0, 0, 0],
    )
    return data, time.perf_counter() + deadline_s


def test_an_integral_lp_plan_breaking_rule_8_is_not_taken() -> None:
    # The LP leaves rule 8 out (it is a relaxation): both near is its integral optimum.
    data, deadline = _two_households()
    res = settle_fixed_set(data, deadline, _one_worker())
    assert sorted(res.chosen) in ([0, 3], [1, 2])  # one near, one far: rule 8 kept
    # Every candidate is in the window, so its optimum is the least km of the placed set,
    # and that is the bound reported (the LP's own was 200).
    assert res.how == "window-optimal"
    assert res.km_optimal
    assert res.km_lower_bound == 600


def test_the_search_ends_by_the_stages_deadline() -> None:
    # The solver comes with a generous limit of its own; each of the stage's solves is
    # capped by what is left before the deadline (the second solve used to get it again).
    data, _ = _two_households()
    solver = _one_worker()
    solver.parameters.max_time_in_seconds = 1000.0
    started = time.perf_counter()
    settle_fixed_set(data, started + 5.0, solver)
    assert solver.parameters.max_time_in_seconds == 1000.0  # given back as it came
    assert solver.limits and max(solver.limits) <= 5.0


def _settle_three(columns: tuple[int, ...]) -> FixedSetResult:
    """Household 1's candidate 4 (km 1.5) is in no LP solution (the LP, without rule 8,
    takes 0 and 2) nor in the plan: only a window of the candidates ranked by reduced
    cost can give it to the search."""
    data = FixedSetInput(
        placed=[[0, 1], [2, 3, 4]],
        current=[1, 3],
        rows=[Row(vars=[0, 2], coeffs=[1, 1], ub=1, keep_apart=True, key=("keep_apart",))],
        km=[100, 500, 100, 500, 150],
        fit=[0] * 5,
        columns=columns,
    )
    return settle_fixed_set(data, time.perf_counter() + 30, _one_worker())


def test_the_exact_window_finds_the_least_km_the_lp_support_misses() -> None:
    res = _settle_three((5,))
    assert sorted(res.chosen) == [0, 4]  # near, and household 1 at its second nearest
    assert res.how == "window-optimal"
    assert res.km_lower_bound == 250


def test_a_window_too_narrow_proves_nothing() -> None:
    # The two lowest reduced costs are the LP's support: with the plan, the window holds
    # candidates 0-3 and misses 4, whose reduced cost (50) leaves room below the window's
    # optimum (600 against LP 200 + 50): no proof, the LP bound is kept.
    res = _settle_three((2,))
    assert sum([100, 500, 100, 500, 150][v] for v in res.chosen) == 600
    assert res.how == "lp-rounded"
    assert not res.km_optimal
    assert res.km_lower_bound == 200


class _Recording(cp_model.CpSolver):
    """A CP-SAT solver that remembers the time limit of each of its solves."""

    def __init__(self) -> None:
        super().__init__()
        self.limits: list[float] = []

    def solve(self, model: cp_model.CpModel, *args: object) -> cp_model.CpSolverStatus:
        self.limits.append(self.parameters.max_time_in_seconds)
        return super().solve(model, *args)  # type: ignore[arg-type]


def _one_worker() -> _Recording:
    solver = _Recording()
    solver.parameters.num_workers = 1
    return solver


@pytest.mark.slow
def test_deterministic_km_leaves_the_level_2_plan_within_its_work() -> None:
    # idf-4 (suite night): the plan levels 1-2 leave sends the placed households 2.8 times
    # the least km, and the km stage has ~0.5 work units left in deterministic mode.
    # From that plan CP-SAT found nothing better within them (km stayed +177 % over the
    # LP bound); the first window now starts from the LP's rounding, repaired by CP-SAT,
    # and ends ~15 % over it.
    suite = Path(__file__).resolve().parents[3] / "benchmarks" / "suite" / "nights"
    prob = Problem.model_validate_json((suite / "idf-4.json").read_text())
    st = prob.settings.model_copy(update={"deterministic": True, "time_limit_s": 10.0})
    prob = prob.model_copy(update={"settings": st})
    plan = solve(prob, num_workers=2)
    assert check(prob, plan) == []
    bound = plan.stats.km_lower_bound
    assert bound is not None and plan.objective.total_km <= 1.3 * bound
