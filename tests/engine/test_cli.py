"""The command line: bad input exits 2 with one line naming the field, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .builders import household, problem, shelter

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "allocation", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def good() -> dict[str, Any]:
    return problem([shelter("S1")], [household("H1"), household("H2")]).model_dump(mode="json")


def write(tmp_path: Path, data: Any, name: str = "p.json") -> str:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(p)


def test_solve_then_check(tmp_path: Path) -> None:
    prob = write(tmp_path, good())
    out = tmp_path / "plan.json"
    r = run("solve", prob, "-o", str(out), "--time-limit", "3", "--seed", "1")
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["status"] == "optimal"
    assert run("check", prob, str(out)).returncode == 0


def test_the_time_limit_counts_from_the_process_start(tmp_path: Path) -> None:
    # The interpreter and the imports of OR-Tools and numpy are part of what the operator
    # waits for: the plan says how much of the limit they took, and its wall time includes
    # it (the limit is for the whole process, not only for the solve call).
    prob = write(tmp_path, good())
    out = tmp_path / "plan.json"
    r = run("solve", prob, "-o", str(out), "--time-limit", "3")
    assert r.returncode == 0, r.stderr
    stats = json.loads(out.read_text())["stats"]
    assert stats["started_before_s"] > 0  # at least the imports
    assert stats["wall_s"] >= stats["started_before_s"]


def test_called_in_process_the_limit_counts_from_the_call(tmp_path: Path) -> None:
    # main() called from a long-running process (a test, a script) must not count that
    # process's age against the limit.
    from allocation.cli import main

    prob = write(tmp_path, good())
    out = tmp_path / "plan.json"
    assert main(["solve", prob, "-o", str(out), "--time-limit", "3"]) == 0
    assert json.loads(out.read_text())["stats"]["started_before_s"] == 0


def test_check_reports_violations(tmp_path: Path) -> None:
    prob = write(tmp_path, good())
    plan = {
        "status": "feasible",
        "assignments": [
            {"household": "H1", "shelter": "S1", "rooms": ["S1-R1"], "km": 0},
            {"household": "H2", "shelter": "S1", "rooms": ["S1-R1"], "km": 0},
        ],
        "unplaced": [],
        "objective": {"people_placed_by_priority": {"4": 0, "3": 0, "2": 2, "1": 0}},
        "bound": {"people_placed_by_priority": {"4": 0, "3": 0, "2": 2, "1": 0}},
        "stats": {"wall_s": 0, "solver": "hand"},
    }
    r = run("check", prob, write(tmp_path, plan, "plan.json"))
    assert r.returncode == 1
    assert "holds one household" in r.stdout


def _mutations() -> list[tuple[str, Any, str]]:
    def dup(d: dict[str, Any]) -> None:
        d["households"][1]["id"] = "H1"

    def missing(d: dict[str, Any]) -> None:
        del d["households"][0]["priority"]

    def mistyped(d: dict[str, Any]) -> None:
        d["households"][0]["max_km"] = "far"

    def unknown(d: dict[str, Any]) -> None:
        d["households"][0]["excluded_shelters"] = ["S404"]

    def negative(d: dict[str, Any]) -> None:
        d["shelters"][0]["rooms"][0]["beds"] = -1

    def extra(d: dict[str, Any]) -> None:
        d["households"][0]["avoidd"] = []

    return [
        ("duplicate", dup, "duplicate id 'H1'"),
        ("missing", missing, "households[0].priority"),
        ("mistyped", mistyped, "households[0].max_km"),
        ("unknown", unknown, "excluded_shelters"),
        ("negative", negative, "shelters[0].rooms[0].beds"),
        ("extra", extra, "households[0].avoidd"),
    ]


def assert_one_line(r: subprocess.CompletedProcess[str], needle: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert needle in lines[0], lines[0]
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(("name", "mutate", "needle"), _mutations(), ids=lambda x: str(x)[:12])
def test_bad_problem(tmp_path: Path, name: str, mutate: Any, needle: str) -> None:
    data = good()
    mutate(data)
    assert_one_line(run("solve", write(tmp_path, data)), needle)


def test_invalid_json(tmp_path: Path) -> None:
    assert_one_line(run("solve", write(tmp_path, "{not json")), "invalid JSON")


def test_unreadable_file(tmp_path: Path) -> None:
    assert_one_line(run("solve", str(tmp_path / "nope.json")), "cannot read")


def test_bad_option(tmp_path: Path) -> None:
    prob = write(tmp_path, good())
    assert_one_line(run("solve", prob, "--time-limit", "soon"), "--time-limit")
    assert_one_line(run("solve", prob, "--seed", "-3"), "--seed")
    assert_one_line(run("frobnicate"), "invalid choice")
