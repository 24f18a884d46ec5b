"""The benchmark baselines: valid plans, and each faithful to what it claims to be."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from allocation import check, solve
from allocation.models import Problem
from allocation.tools.baselines import greedy_fcfs, level1_value, naive_cpsat
from allocation.tools.generate import generate_problem

EXAMPLES = Path("/work/shared/examples")
if not EXAMPLES.is_dir():  # the examples may also live in the repository
    EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"


def _example(name: str) -> Problem:
    path = EXAMPLES / f"{name}.json"
    if not path.exists():
        pytest.skip(f"example {path} not available")
    return Problem.model_validate_json(path.read_text())


def _shelter(sid: str, lat: float, rooms: list[dict[str, Any]], **flags: Any) -> dict[str, Any]:
    base = {"women": True, "men": True, "children": True}
    base.update(flags)
    return {"id": sid, "lat": lat, "lon": 3.0, **base, "rooms": rooms}


def _household(hid: str, waiting: str, members: list[tuple[int, str]], **more: Any) -> dict:
    return {
        "id": hid,
        "priority": more.pop("priority", 2),
        "waiting_since": f"2026-11-28T{waiting}:00+01:00",
        "origin": {"lat": 50.0, "lon": 3.0},
        "members": [{"age": a, "sex": s} for a, s in members],
        **more,
    }


@pytest.fixture(scope="module")
def small_generated() -> Problem:
    return generate_problem(25, 80, seed=11, region="hainaut")


def test_greedy_passes_check(small_generated: Problem) -> None:
    for problem in (small_generated, _example("nord-small")):
        plan = greedy_fcfs(problem)
        assert check(problem, plan) == []
        assert plan.status == "feasible"


def test_naive_cpsat_passes_check(small_generated: Problem) -> None:
    # Stopped as soon as it is as good as the greedy plan on level 1 (a plan that exists):
    # the limit is only a safety net, so a busy machine makes it slower, not different.
    greedy = greedy_fcfs(small_generated).objective.people_placed_by_priority
    plan = naive_cpsat(small_generated, time_limit_s=60, target=greedy)
    assert plan.status in ("optimal", "feasible")
    assert check(small_generated, plan) == []


def test_greedy_is_first_come_first_served() -> None:
    """The earliest caller gets the near family room, even if a later one is in danger."""
    problem = Problem.model_validate(
        {
            "shelters": [
                # Near: one 3-bed room. Far (55 km): one 3-bed room and a 1-bed room.
                _shelter("S1", 50.05, [{"id": "S1-R1", "beds": 3}]),
                _shelter(
                    "S2",
                    50.5,
                    [{"id": "S2-R1", "beds": 3}, {"id": "S2-R2", "beds": 1}],
                ),
            ],
            "households": [
                # Listed first but called last, in immediate danger, cannot go far.
                _household("H1", "21:30", [(30, "F"), (8, "F"), (5, "M")], priority=4, max_km=20),
                _household("H2", "19:00", [(40, "F"), (12, "M"), (2, "F")], priority=1),
                _household("H3", "20:00", [(50, "M")], max_km=100),
            ],
        }
    )
    plan = greedy_fcfs(problem)
    assert check(problem, plan) == []
    where = {a.household: (a.shelter, a.rooms) for a in plan.assignments}
    assert where["H2"] == ("S1", ["S1-R1"])  # first caller, nearest shelter
    assert where["H3"] == ("S2", ["S2-R2"])  # smallest room that fits, not the family room
    assert "H1" not in where  # the urgent family is left out: S2 is beyond its 20 km
    assert {u.household: u.code for u in plan.unplaced} == {"H1": "capacity_taken"}
    # The engine serves urgency first: H1 near, H2 sent further, everyone placed.
    best = solve(problem)
    assert {a.household: a.shelter for a in best.assignments} == {
        "H1": "S1",
        "H2": "S2",
        "H3": "S2",
    }


def test_greedy_keeps_apart_from_those_already_placed() -> None:
    problem = Problem.model_validate(
        {
            "shelters": [
                _shelter("S1", 50.01, [{"id": "S1-R1", "beds": 2}, {"id": "S1-R2", "beds": 2}]),
                _shelter("S2", 50.05, [{"id": "S2-R1", "beds": 1}]),
                _shelter("S3", 50.4, [{"id": "S3-R1", "beds": 1}]),
            ],
            "households": [
                _household("H1", "18:00", [(30, "F")], keep_apart=[{"household": "H2", "km": 20}]),
                _household("H2", "19:00", [(35, "M")]),
            ],
        }
    )
    plan = greedy_fcfs(problem)
    assert check(problem, plan) == []
    where = {a.household: a.shelter for a in plan.assignments}
    assert where["H1"] == "S1"
    assert where["H2"] == "S3"  # S1 and S2 (4 km from S1) are too close to her


def test_naive_cpsat_reaches_the_engine_level1_on_small_example() -> None:
    problem = _example("nord-small")
    ours = solve(problem)
    target = ours.objective.people_placed_by_priority
    plan = naive_cpsat(problem, time_limit_s=25, target=target)
    assert check(problem, plan) == []
    assert plan.stats.model_extra is not None
    assert plan.stats.model_extra["time_to_target_s"] is not None
    assert level1_value(problem, plan.objective.people_placed_by_priority) == level1_value(
        problem, target
    )
    expected = json.loads((EXAMPLES / "nord-small.expected.json").read_text())
    assert target == expected["level1_optimum"]
