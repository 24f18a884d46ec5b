"""Run the engine on every night of the suite and judge it (``benchmarks/engine.py --suite``).

Per night and mode (``deterministic`` true, then false) the engine runs in a fresh process
(``benchmarks/suite/worker.py``): it loads the night, calls ``allocation.solve`` once, and
reports the wall time of that call, the process's peak RSS (``VmHWM``) and the plan.
The parent times the whole process (start to exit, what the CLI costs) and then judges the
plan: ``allocation.check``, level 1 against the stored optimum (``optima.json``), total km
against a lower bound for the plan's own placed households (``oracle.km_lower_bound``),
wasted beds, and, in deterministic mode, whether a second run gave the very same plan.
``--stress`` keeps a CPU-burning process busy meanwhile.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from allocation.models import PRIORITIES, Plan, Problem
from benchmarks.suite.nights import NIGHTS_DIR, load_manifest, load_night
from benchmarks.suite.oracle import OPTIMA, km_lower_bound

ROOT = Path(__file__).resolve().parents[2]
GRACE_S = 120  # a run this far past its limit is killed (and reported as such)
KM_LB_LIMIT_S = 20.0


# --- one run in a fresh process ------------------------------------------------------------


def spawn(night: str, time_limit: float, deterministic: bool, out: Path) -> dict[str, Any]:
    mode = "det" if deterministic else "wall"
    cmd = [sys.executable, "-m", "benchmarks.suite.worker", str(NIGHTS_DIR / night), str(out)]
    cmd += [str(time_limit), mode]
    out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=time_limit + GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()  # only the child we started
        proc.communicate()
        return {"error": f"killed after {time_limit + GRACE_S:.0f} s"}
    process_s = time.perf_counter() - t0
    if proc.returncode != 0 or not out.exists():
        tail = err.decode(errors="replace").strip().splitlines()[-1:]
        return {"error": f"exit {proc.returncode}: {' '.join(tail)[:160]}"}
    result: dict[str, Any] = json.loads(out.read_text())
    result["process_s"] = process_s
    return result


# --- judging one plan ---------------------------------------------------------------------


def placement_key(plan: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    return sorted((a["household"], a["shelter"], tuple(a["rooms"])) for a in plan["assignments"])


def level1_versus(placed: dict[str, int], optimum: dict[str, int]) -> tuple[str, int]:
    """('same' | 'P2 -3' | 'P1 +2 (beats the oracle)', lexicographic sign: -1, 0, +1)."""
    for t in PRIORITIES:
        diff = placed.get(str(t), 0) - optimum.get(str(t), 0)
        if diff:
            note = " (beats the oracle!)" if diff > 0 else ""
            return f"P{t} {diff:+d}{note}", 1 if diff > 0 else -1
    return "same", 0


@dataclass
class Judged:
    night: str
    mode: str
    run: dict[str, Any]
    verdict: dict[str, Any] = field(default_factory=dict)


def judge(problem: Problem, run: dict[str, Any], optimum: dict[str, Any] | None) -> dict[str, Any]:
    from allocation import check

    if "error" in run:
        return {"error": run["error"]}
    plan = Plan.model_validate(run["plan"])
    errors = check(problem, plan)
    v: dict[str, Any] = {
        "status": plan.status,
        "placed": plan.objective.people_placed_by_priority,
        "total_km": plan.objective.total_km,
        "wasted_beds": plan.objective.wasted_beds,
        "wall_s": run["wall_s"],
        "process_s": run["process_s"],
        "peak_mb": run["peak_mb"],
        "check_ok": not errors,
        "first_violation": errors[:1],
        "cut_by_wall_clock": plan.stats.model_dump().get("deterministic_cut_by_wall_clock"),
    }
    if optimum is not None:
        v["versus"], v["sign"] = level1_versus(v["placed"], optimum["level1"])
        v["optimum_proven"] = optimum["proven"]
    placed_ids = [a.household for a in plan.assignments]
    lb = km_lower_bound(problem, placed_ids, KM_LB_LIMIT_S)
    v["km_lb"] = lb["lower_bound_km"]
    v["km_lb_proven"] = lb["proven"]
    v["km_lb_status"] = lb["status"]
    if lb["lower_bound_km"]:
        v["km_over_lb_pct"] = 100.0 * (plan.objective.total_km / lb["lower_bound_km"] - 1)
    return v


# --- the suite ------------------------------------------------------------------------------


def burn() -> subprocess.Popen[bytes]:
    """A process that keeps one core busy (the replay-under-load requirement)."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def run_suite(names: list[str], time_limit: float, out_dir: Path, stress: bool) -> dict[str, Any]:
    optima = json.loads(OPTIMA.read_text())["nights"] if OPTIMA.exists() else {}
    out_dir.mkdir(exist_ok=True)
    burner = burn() if stress else None
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    rows: list[Judged] = []
    try:
        for name in names:
            problem = load_night(name)
            for deterministic in (True, False):
                mode = "deterministic" if deterministic else "wall clock"
                tag = f"{name}-{'det' if deterministic else 'wall'}"
                first = spawn(f"{name}.json", time_limit, deterministic, out_dir / f"{tag}-1.json")
                j = Judged(name, mode, first, judge(problem, first, optima.get(name)))
                if deterministic and "error" not in first:
                    second = spawn(f"{name}.json", time_limit, True, out_dir / f"{tag}-2.json")
                    j.verdict["replay_same"] = "error" not in second and placement_key(
                        first["plan"]
                    ) == placement_key(second["plan"])
                    if "error" not in second:
                        j.verdict["wall_s_2"] = second["wall_s"]
                        j.verdict["process_s_2"] = second["process_s"]
                rows.append(j)
                print(f"[{name} {mode}] {short(j.verdict)}", flush=True)
    finally:
        if burner is not None:
            burner.kill()
            burner.wait()
    return {
        "started": started.isoformat(),
        "time_limit_s": time_limit,
        "stress": stress,
        "loadavg": [load_before, os.getloadavg()],
        "results": [{"night": j.night, "mode": j.mode, **j.verdict} for j in rows],
    }


def short(v: dict[str, Any]) -> str:
    if "error" in v:
        return v["error"]
    return (
        f"{v['status']} {tiers(v['placed'])} vs optimum: {v.get('versus', '?')}; "
        f"km {v['total_km']:.0f} (LB {v['km_lb'] or 0:.0f}); {v['wall_s']:.1f} s, "
        f"process {v['process_s']:.1f} s, {v['peak_mb']:.0f} MB, replay {v.get('replay_same')}"
        f"{'' if v['check_ok'] else ', CHECK FAILED'}"
    )


def tiers(d: dict[str, int]) -> str:
    return " / ".join(str(d.get(str(t), 0)) for t in PRIORITIES)


def select(nights: str | None) -> list[str]:
    names = [n["name"] for n in load_manifest()]
    if not nights:
        return names
    wanted = [n.strip() for n in nights.split(",") if n.strip()]
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        raise ValueError(f"unknown night(s): {', '.join(unknown)} (see manifest.json)")
    return wanted
