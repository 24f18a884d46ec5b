"""Same problem, same plan: record deterministic plans, and compare a later engine with them.

    python -m benchmarks.replay record DIR [--only NAME,...]
    python -m benchmarks.replay compare DIR [--only NAME,...]

A change of the engine's *code* that must not change its *behaviour* (a restructure) is
proven by this: each case is a suite night solved in deterministic mode with a limit long
enough that the work budget, not the wall clock, ends every stage (the record says so:
``deterministic_cut_by_wall_clock`` false), so the plan depends on the code only. ``record``
writes each plan with the timings taken out (wall seconds are the only load-dependent
fields); ``compare`` solves again and says, per case, whether the bytes are identical.
Some cases pass other ``SearchParams`` to reach the paths the suite's nights do not take
(a pruned model with its Lagrangian bound, a model too big for the LP).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allocation import Plan, Problem, SearchParams, solve
from benchmarks.suite.nights import NIGHTS_DIR


@dataclass(frozen=True)
class Case:
    name: str
    night: str
    time_limit_s: float
    params: dict[str, Any] = field(default_factory=dict)


CASES: tuple[Case, ...] = (
    Case("crib-rooms", "crib-rooms", 10),
    Case("example-nord-small", "example-nord-small", 10),
    Case("example-nord-medium", "example-nord-medium", 20),
    Case("small-hainaut-1", "small-hainaut-1", 20),
    Case("small-nord-2", "small-nord-2", 20),
    Case("small-idf-3", "small-idf-3", 20),
    # A pruned model (its Lagrangian bound) and a model without the LP (full-model stages).
    Case("small-nord-2-pruned", "small-nord-2", 20, {"max_candidates": 1500, "min_nearest": 2}),
    Case("small-hainaut-1-no-lp", "small-hainaut-1", 20, {"lp_max_candidates": 10}),
    # Room sets bounded (stats.bounded.room_sets_pairs).
    Case("nord-medium-bounded", "example-nord-medium", 20, {"max_combos_per_pair": 1}),
    # Département nights: per-tier stages on LP supports, fairness sub-model, fixed set.
    Case("hainaut-1", "hainaut-1", 60),
    Case("nord-1", "nord-1", 60),
    Case("keep-apart", "keep-apart", 60),
)

#: Wall-clock fields: the only ones that may differ between two runs of the same code.
_TIMING_STATS = ("wall_s",)
_TIMING_STAGE = ("wall_s", "allowed_s", "at_s")


def canonical(plan: Plan) -> str:
    """The plan as JSON without its timings (stable key order)."""
    data = plan.model_dump(mode="json")
    for key in _TIMING_STATS:
        data["stats"].pop(key, None)
    for stage in data["stats"]["stages"]:
        for key in _TIMING_STAGE:
            stage.pop(key, None)
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def run_case(case: Case) -> tuple[Plan, float]:
    problem = Problem.model_validate_json((NIGHTS_DIR / f"{case.night}.json").read_text())
    settings = problem.settings.model_copy(
        update={"time_limit_s": case.time_limit_s, "deterministic": True}
    )
    problem = problem.model_copy(update={"settings": settings})
    t0 = time.perf_counter()
    plan = solve(problem, num_workers=2, params=SearchParams(**case.params))
    return plan, time.perf_counter() - t0


def _cases(only: str | None) -> list[Case]:
    if not only:
        return list(CASES)
    names = set(only.split(","))
    unknown = names - {c.name for c in CASES}
    if unknown:
        raise SystemExit(f"unknown case(s): {', '.join(sorted(unknown))}")
    return [c for c in CASES if c.name in names]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.replay")
    p.add_argument("command", choices=("record", "compare"))
    p.add_argument("dir", type=Path)
    p.add_argument("--only", help="comma-separated case names")
    args = p.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    for case in _cases(args.only):
        plan, wall = run_case(case)
        text = canonical(plan)
        cut = plan.stats.deterministic_cut_by_wall_clock
        path = args.dir / f"{case.name}.json"
        if args.command == "record":
            path.write_text(text)
            verdict = "recorded"
        elif not path.exists():
            verdict = "NO RECORD"
            failed += 1
        elif path.read_text() == text:
            verdict = "identical"
        else:
            verdict = "DIFFERENT"
            failed += 1
            path.with_suffix(".new.json").write_text(text)
        note = "  (cut by the wall clock: not evidence)" if cut else ""
        print(f"{case.name:24} {verdict:10} {plan.status:8} {wall:6.1f} s{note}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
