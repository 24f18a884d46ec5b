"""The shared examples reach their independently computed level-1 optimum."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from allocation import Problem, check, solve

EXAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "examples"


def _run(name: str) -> None:
    path = EXAMPLES / f"{name}.json"
    if not path.exists():
        pytest.skip(f"{path} not found (shared/ must sit beside the checkout)")
    prob = Problem.model_validate_json(path.read_text())
    expected = json.loads((EXAMPLES / f"{name}.expected.json").read_text())
    plan = solve(prob)
    assert check(prob, plan) == []
    assert plan.status == "optimal"
    assert plan.objective.people_placed_by_priority == expected["level1_optimum"]
    assert plan.bound.people_placed_by_priority == expected["level1_optimum"]
    assert plan.objective.total_km >= expected["total_km_lower_bound"] - 0.1
    assert plan.stats.wall_s <= prob.settings.time_limit_s


def test_nord_small() -> None:
    _run("nord-small")


@pytest.mark.slow
def test_nord_medium() -> None:
    _run("nord-medium")


def test_deterministic_same_plan_twice() -> None:
    path = EXAMPLES / "nord-small.json"
    if not path.exists():
        pytest.skip("shared examples not found")
    data = json.loads(path.read_text())
    data["settings"].update(deterministic=True, time_limit_s=3)
    prob = Problem.model_validate(data)
    a, b = solve(prob), solve(prob)
    assert a.assignments == b.assignments
    assert a.unplaced == b.unplaced
    assert check(prob, a) == []
