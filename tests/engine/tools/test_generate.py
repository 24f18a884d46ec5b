"""The problem generator: valid, deterministic, realistic enough to stress the engine."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from allocation.models import Problem
from allocation.tools.generate import REGIONS, generate_problem, main

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def dept() -> Problem:
    return generate_problem(150, 600, seed=3, region="hainaut")


def test_valid_problem_that_round_trips_through_json(dept: Problem) -> None:
    again = Problem.model_validate_json(dept.model_dump_json())
    assert again == dept
    assert len(dept.shelters) == 150
    assert len(dept.households) == 600


def test_deterministic_per_seed() -> None:
    a = generate_problem(30, 80, seed=7).model_dump_json()
    b = generate_problem(30, 80, seed=7).model_dump_json()
    c = generate_problem(30, 80, seed=8).model_dump_json()
    assert a == b
    assert a != c


def test_ids_follow_the_naming_scheme(dept: Problem) -> None:
    assert [s.id for s in dept.shelters] == [f"S{n}" for n in range(1, 151)]
    assert [h.id for h in dept.households] == [f"H{n}" for n in range(1, 601)]
    for s in dept.shelters:
        for r in s.rooms:
            assert re.fullmatch(rf"{s.id}-R\d+", r.id)


def test_demand_exceeds_supply_most_for_families(dept: Problem) -> None:
    rooms = [r for s in dept.shelters for r in s.rooms]
    people = sum(h.size for h in dept.households)
    assert people > sum(r.beds for r in rooms)
    big_families = sum(1 for h in dept.households if h.needs_bed >= 4)
    big_rooms = sum(1 for r in rooms if not r.shared and r.beds >= 4)
    assert big_families > big_rooms


def test_room_count_near_a_departement(dept: Problem) -> None:
    n_rooms = sum(len(s.rooms) for s in dept.shelters)
    assert 380 <= n_rooms <= 520


def test_has_the_hard_cases(dept: Problem) -> None:
    hs = dept.households
    assert sum(len(h.keep_apart) for h in hs) >= 5
    assert sum(len(h.avoid) for h in hs) >= 10
    assert any(h.needs.dv_specialised for h in hs)
    assert any(h.needs.secure for h in hs)
    assert any(h.needs.wheelchair for h in hs)
    assert any(h.needs.pets for h in hs)
    assert any(h.needs.language for h in hs)
    assert any(h.excluded_shelters for h in hs)
    assert any(h.max_km is None for h in hs) and any(h.max_km is not None for h in hs)
    # Teenage boys exist, and so do shelters that refuse them.
    assert any(m.sex == "M" and 13 <= m.age < 18 for h in hs for m in h.members)
    assert any(s.max_boy_age is not None and s.max_boy_age < 15 for s in dept.shelters)
    assert any(r.shared for s in dept.shelters for r in s.rooms)
    assert any(r.wheelchair for s in dept.shelters for r in s.rooms)
    # Few households in immediate danger; single adults are the majority.
    p4 = sum(1 for h in hs if h.priority == 4)
    assert 0 < p4 < len(hs) * 0.2
    assert sum(1 for h in hs if h.size == 1) > len(hs) / 2


def test_shelters_sit_in_their_region() -> None:
    for region, communes in REGIONS.items():
        p = generate_problem(60, 10, seed=1, region=region)
        lats = [c[1] for c in communes]
        lons = [c[2] for c in communes]
        for s in p.shelters:
            assert min(lats) - 0.5 < s.lat < max(lats) + 0.5
            assert min(lons) - 0.7 < s.lon < max(lons) + 0.7


def test_region_size_lands_near_5000_rooms() -> None:
    # (How fast the generator is, is a benchmark figure: docs/benchmarks.md, "generated in".)
    p = generate_problem(1500, 6000, seed=0, region="nord")
    assert 4500 <= sum(len(s.rooms) for s in p.shelters) <= 5500


@pytest.mark.slow
def test_national_size_has_unique_room_ids() -> None:
    p = generate_problem(10_000, 25_000, seed=0, region="france")
    assert len({r.id for s in p.shelters for r in s.rooms}) == sum(len(s.rooms) for s in p.shelters)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="region"):
        generate_problem(1, 1, region="atlantis")
    with pytest.raises(ValueError, match="shelters"):
        generate_problem(-1, 1)


def test_cli_writes_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--shelters", "4", "--households", "9", "--seed", "2", "--region", "idf"]) == 0
    out = capsys.readouterr().out
    p = Problem.model_validate(json.loads(out))
    assert len(p.households) == 9


@pytest.mark.parametrize(
    "argv",
    [
        ["--shelters", "x", "--households", "3"],
        ["--shelters", "3"],
        ["--shelters", "3", "--households", "3", "--region", "atlantis"],
        ["--shelters", "-2", "--households", "3"],
        ["--shelters", "3", "--households", "3", "--bogus"],
    ],
)
def test_cli_bad_option_is_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1


def test_python_m_allocation_generate() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "allocation", "generate", "--shelters", "3", "--households", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert len(Problem.model_validate_json(ok.stdout).households) == 5
    bad = subprocess.run(
        [sys.executable, "-m", "allocation", "generate", "--shelters", "lots"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr
