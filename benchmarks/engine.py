"""Benchmark the allocation engine against the baselines, at the three target sizes.

    .venv/bin/python benchmarks/engine.py [--sizes departement,region,national,examples]
                                          [--seed S] [--out docs/benchmarks.md]
    .venv/bin/python benchmarks/engine.py --suite [--nights a,b] [--time-limit 10] [--stress]
                                          [--out docs/benchmarks.md]

``--suite`` runs the fixed suite of nights of ``benchmarks/suite/`` (see its ``runner.py``)
and compares each plan with the night's stored, independently computed level-1 optimum.

Each method runs in a fresh Python process (so memory figures are its own): the process
loads the problem, runs the method, reads its peak RSS (``getrusage(RUSAGE_SELF)``), then
checks the plan with ``allocation.check``. Wall time is the method's own (model building
included), not the interpreter start. Problems and raw results go to ``.benchmarks-out/``.

Methods: the engine (``allocation.solve``), ``greedy_fcfs`` (first come, first served, what a
desk does by phone) and ``naive_cpsat`` (the textbook one-boolean-per-room CP-SAT model). On
the département size the naive model is stopped as soon as it matches the engine's level 1,
which gives the speed ratio; on the bigger sizes it is capped or not attempted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from allocation.models import PRIORITIES, Problem  # noqa: E402

OUT_DIR = ROOT / ".benchmarks-out"
EXAMPLES = Path("/work/shared/examples")


@dataclass(frozen=True)
class Size:
    name: str
    region: str
    shelters: int
    households: int
    solve_limit_s: float
    naive_limit_s: float | None  # None: not attempted
    naive_to_target: bool  # stop the naive model when it matches the engine's level 1


SIZES: dict[str, Size] = {
    "departement": Size("departement", "hainaut", 150, 600, 10, 300, True),
    "region": Size("region", "nord", 1500, 6000, 60, 60, False),
    "national": Size("national", "france", 10_000, 25_000, 120, None, False),
}
# A child that overruns its limit by this much (model building is not interruptible) is killed.
GRACE_S = 240
NAIVE_MEMORY_CAP = 16 * 2**30  # keep the textbook model from taking the machine down


# --- child: run one method on one problem -------------------------------------------------


def run_worker(args: argparse.Namespace) -> int:
    from allocation import check, solve
    from allocation.tools.baselines import greedy_fcfs, naive_cpsat

    if args.worker == "naive":
        resource.setrlimit(resource.RLIMIT_AS, (NAIVE_MEMORY_CAP, NAIVE_MEMORY_CAP))
    problem = Problem.model_validate_json(Path(args.problem).read_text())
    if args.time_limit:
        settings = problem.settings.model_copy(update={"time_limit_s": args.time_limit})
        problem = problem.model_copy(update={"settings": settings})
    target = json.loads(args.target) if args.target else None
    result: dict[str, Any] = {"method": args.worker}
    t0 = time.perf_counter()
    try:
        if args.worker == "solve":
            plan = solve(problem)
        elif args.worker == "greedy":
            plan = greedy_fcfs(problem)
        else:
            plan = naive_cpsat(problem, time_limit_s=args.time_limit, target=target)
    except MemoryError:
        result.update(error="out of memory", wall_s=time.perf_counter() - t0)
        Path(args.result).write_text(json.dumps(result))
        return 0
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    result.update(
        wall_s=wall,
        peak_mb=peak_mb,
        status=plan.status,
        placed=plan.objective.people_placed_by_priority,
        bound=plan.bound.people_placed_by_priority,
        total_km=plan.objective.total_km,
        wasted_beds=plan.objective.wasted_beds,
        n_assigned=len(plan.assignments),
        stats=plan.stats.model_dump(),
    )
    # Written before the check too: a check that overruns must not lose the solve's figures.
    Path(args.result).write_text(json.dumps(result))
    t1 = time.perf_counter()
    errors = check(problem, plan)
    result.update(check_ok=not errors, violations=len(errors), first_violation=errors[:1])
    result["check_s"] = time.perf_counter() - t1
    Path(args.result).write_text(json.dumps(result))
    return 0


# --- parent: orchestrate, then write Markdown ---------------------------------------------


@dataclass
class Run:
    label: str
    method: str
    result: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def spawn(
    method: str,
    problem_path: Path,
    result_path: Path,
    time_limit: float | None,
    target: dict[str, int] | None = None,
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        method,
        "--problem",
        str(problem_path),
        "--result",
        str(result_path),
    ]
    if time_limit:
        cmd += ["--time-limit", str(time_limit)]
    if target:
        cmd += ["--target", json.dumps(target)]
    result_path.unlink(missing_ok=True)
    budget = (time_limit or 60) + GRACE_S
    t0 = time.perf_counter()
    log = result_path.with_suffix(".log").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        rc = proc.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        proc.kill()  # only the child we started
        proc.wait()
        if result_path.exists():  # the method finished; its check overran
            out = json.loads(result_path.read_text())
            out.update(check_ok=None, violations=0, first_violation=[])
            return out
        return {"method": method, "error": f"killed after {budget:.0f} s"}
    finally:
        log.close()
    if rc != 0 or not result_path.exists():
        tail = result_path.with_suffix(".log").read_text().strip().splitlines()[-1:]
        return {"method": method, "error": f"exit {rc}: {' '.join(tail)[:120]}"}
    out = json.loads(result_path.read_text())
    out["process_s"] = time.perf_counter() - t0
    return out


def tiers(d: dict[str, int] | None) -> str:
    if not d:
        return "–"
    return " / ".join(str(d.get(str(t), 0)) for t in PRIORITIES)


def level1_gap(placed: dict[str, int], bound: dict[str, int]) -> str:
    """First tier (from 4 down) where the bound exceeds what is placed, or 0."""
    for t in PRIORITIES:
        gap = bound.get(str(t), 0) - placed.get(str(t), 0)
        if gap:
            return f"P{t} +{gap}"
    return "0"


def versus(placed: dict[str, int], ref: dict[str, int] | None) -> str:
    if not ref:
        return "–"
    diffs = [placed.get(str(t), 0) - ref.get(str(t), 0) for t in PRIORITIES]
    if not any(diffs):
        return "same"
    return " / ".join(f"{d:+d}" for d in diffs)


METHOD_NAMES = {"solve": "engine `solve`", "greedy": "greedy FCFS", "naive": "naive CP-SAT"}


def size_table(runs: list[Run], ours: dict[str, int] | None) -> list[str]:
    lines = [
        "| method | status | people placed P4 / P3 / P2 / P1 (total) | vs engine | "
        "level-1 gap to own bound | total km | wasted beds | wall s | peak RSS MB | check |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        r = run.result
        name = METHOD_NAMES[run.method] + (f" ({run.note})" if run.note else "")
        if "error" in r or not r:
            why = r.get("error", "not attempted")
            lines.append(f"| {name} | {why} | – | – | – | – | – | – | – | – |")
            continue
        total = sum(r["placed"].values())
        chk = {True: "pass", None: "not finished"}.get(
            r["check_ok"], f"**{r['violations']} violations**"
        )
        lines.append(
            f"| {name} | {r['status']} | {tiers(r['placed'])} ({total}) | "
            f"{versus(r['placed'], ours) if run.method != 'solve' else '–'} | "
            f"{level1_gap(r['placed'], r['bound'])} | {r['total_km']:.0f} | {r['wasted_beds']} | "
            f"{r['wall_s']:.1f} | {r['peak_mb']:.0f} | {chk} |"
        )
    return lines


def machine() -> dict[str, str]:
    model = platform.processor() or "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    mem_gb = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = f"{int(line.split()[1]) / 2**20:.0f}"
    except OSError:
        pass
    import ortools

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "ram_gb": mem_gb,
        "python": platform.python_version(),
        "ortools": ortools.__version__,
        "commit": commit or "?",
    }


def bench_size(size: Size, seed: int, report: list[str], raw: dict[str, Any]) -> None:
    from allocation.tools.generate import generate_problem

    t0 = time.perf_counter()
    problem = generate_problem(
        size.shelters, size.households, seed=seed, region=size.region, time_limit_s=10
    )
    gen_s = time.perf_counter() - t0
    path = OUT_DIR / f"{size.name}-{seed}.json"
    path.write_text(problem.model_dump_json())
    n_rooms = sum(len(s.rooms) for s in problem.shelters)
    beds = sum(r.beds for s in problem.shelters for r in s.rooms)
    people = sum(h.size for h in problem.households)
    pairs = sum(len(h.keep_apart) for h in problem.households)
    print(f"[{size.name}] generated in {gen_s:.1f} s", flush=True)

    runs: list[Run] = []
    ours = spawn("solve", path, OUT_DIR / f"{size.name}-solve.json", size.solve_limit_s)
    runs.append(Run(size.name, "solve", ours, f"limit {size.solve_limit_s:g} s"))
    print(f"[{size.name}] solve: {summary(ours)}", flush=True)
    greedy = spawn("greedy", path, OUT_DIR / f"{size.name}-greedy.json", None)
    runs.append(Run(size.name, "greedy", greedy))
    print(f"[{size.name}] greedy: {summary(greedy)}", flush=True)
    ours_placed = ours.get("placed")
    if size.naive_limit_s is None:
        runs.append(Run(size.name, "naive", {"error": "not attempted (too large)"}))
    else:
        target = ours_placed if size.naive_to_target else None
        naive = spawn(
            "naive", path, OUT_DIR / f"{size.name}-naive.json", size.naive_limit_s, target
        )
        note = f"limit {size.naive_limit_s:g} s" + (
            ", stops at the engine's level 1" if target else ""
        )
        runs.append(Run(size.name, "naive", naive, note))
        print(f"[{size.name}] naive: {summary(naive)}", flush=True)

    report += [
        "",
        f"### {size.name.capitalize()}: {size.shelters:,} shelters, {n_rooms:,} free rooms, "
        f"{size.households:,} households",
        "",
        f"Region `{size.region}`, seed {seed}: {beds:,} free beds for {people:,} people, "
        f"{pairs} keep-apart declarations; generated in {gen_s:.1f} s.",
        "",
        *size_table(runs, ours_placed),
    ]
    naive_r = runs[-1].result
    if size.naive_to_target and "error" not in naive_r and "wall_s" in ours:
        st = naive_r.get("stats", {})
        reached = st.get("time_to_target_s")
        ours_s = ours["stats"].get("level1_s") or ours["wall_s"]
        if reached is not None:
            report += [
                "",
                f"Naive CP-SAT reached the engine's level-1 value after **{reached:.1f} s** "
                f"(first solution at {st.get('first_solution_s')} s, {st.get('variables'):,} "
                f"variables); the engine's whole run (levels 1–4, {ours['wall_s']:.1f} s) "
                f"is **{reached / ours_s:.1f}×** faster.",
            ]
        else:
            report += [
                "",
                f"Naive CP-SAT did not reach the engine's level-1 value within "
                f"{size.naive_limit_s:g} s ({st.get('variables', 0):,} variables): the ratio "
                f"is more than **{size.naive_limit_s / ours['wall_s']:.0f}×**.",
            ]
    raw[size.name] = {"runs": [r.__dict__ for r in runs], "generate_s": gen_s}


def summary(r: dict[str, Any]) -> str:
    if "error" in r:
        return r["error"]
    return (
        f"{r['status']} {tiers(r['placed'])} in {r['wall_s']:.1f} s, "
        f"{r['peak_mb']:.0f} MB, check {'ok' if r['check_ok'] else 'FAILED'}"
    )


def bench_examples(report: list[str], raw: dict[str, Any]) -> None:
    report += [
        "",
        "### The shared examples",
        "",
        "Expected level-1 optimum and km lower bound from `*.expected.json` (an independent "
        "MIP). Time limit: the file's (20 s); the naive model stops when it matches the "
        "expected optimum, or at 60 s.",
        "",
        "| example | method | status | people placed P4 / P3 / P2 / P1 | expected optimum | "
        "match | total km (lower bound) | wall s | check |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("nord-small", "nord-medium"):
        path = EXAMPLES / f"{name}.json"
        if not path.exists():
            report.append(f"| {name} | – | example not found | | | | | | |")
            continue
        expected = json.loads((EXAMPLES / f"{name}.expected.json").read_text())
        opt = expected["level1_optimum"]
        km_lb = expected.get("total_km_lower_bound")
        raw[name] = {}
        for method in ("solve", "greedy", "naive"):
            limit = 60 if method == "naive" else None
            r = spawn(
                method,
                path,
                OUT_DIR / f"{name}-{method}.json",
                limit,
                opt if method == "naive" else None,
            )
            raw[name][method] = r
            print(f"[{name}] {method}: {summary(r)}", flush=True)
            if "error" in r:
                report.append(f"| {name} | {METHOD_NAMES[method]} | {r['error']} | | | | | | |")
                continue
            same = all(r["placed"].get(k, 0) == v for k, v in opt.items())
            extra = ""
            if method == "naive":
                t = r["stats"].get("time_to_target_s")
                extra = f" (optimum reached at {t:.1f} s)" if t is not None else ""
            report.append(
                f"| {name} | {METHOD_NAMES[method]} | {r['status']}{extra} | "
                f"{tiers(r['placed'])} | {tiers(opt)} | {'yes' if same else 'no'} | "
                f"{r['total_km']:.0f} ({km_lb}) | {r['wall_s']:.1f} | "
                f"{'pass' if r['check_ok'] else 'FAIL'} |"
            )


START, END = "<!-- engine-benchmarks:start -->", "<!-- engine-benchmarks:end -->"


def write_section(path: Path, text: str, start: str = START, end: str = END) -> None:
    """Replace only this script's section of ``path`` (others write other sections)."""
    block = f"{start}\n{text}{end}\n"
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in old and end in old:
        before, rest = old.split(start, 1)
        after = rest.split(end, 1)[1].lstrip("\n")
        new = before + block + ("\n" + after if after else "")
    else:
        new = old.rstrip("\n") + "\n\n" + block
    path.write_text(new)


SUITE_START, SUITE_END = "<!-- engine-suite:start -->", "<!-- engine-suite:end -->"


def run_suite_command(
    p: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str] | None
) -> int:
    from benchmarks.suite.report import markdown
    from benchmarks.suite.runner import run_suite, select

    try:
        names = select(args.nights)
    except ValueError as exc:
        p.error(str(exc))
    OUT_DIR.mkdir(exist_ok=True)
    m = machine()
    data = run_suite(names, args.time_limit or 10.0, OUT_DIR / "suite", args.stress)
    data["machine"] = m
    (OUT_DIR / "suite.json").write_text(json.dumps(data, indent=1))
    cmd = "python benchmarks/engine.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = markdown(data, cmd.strip(), m)
    if args.out:
        write_section(args.out, text, SUITE_START, SUITE_END)
        print(f"wrote {args.out} (raw results: {OUT_DIR / 'suite.json'})")
    else:
        print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="departement,region,national,examples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="write the Markdown report here (else stdout)")
    p.add_argument(
        "--naive-cap", type=float, help="cap the naive CP-SAT model's limit (seconds) per size"
    )
    p.add_argument("--suite", action="store_true", help="run the suite of nights instead")
    p.add_argument("--nights", help="with --suite: comma-separated night names (default all)")
    p.add_argument("--stress", action="store_true", help="with --suite: keep a core busy")
    p.add_argument("--worker", choices=("solve", "greedy", "naive"), help=argparse.SUPPRESS)
    p.add_argument("--problem", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--time-limit", type=float, help="with --suite: seconds per solve (10)")
    p.add_argument("--target", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return run_worker(args)
    if args.suite:
        return run_suite_command(p, args, argv)

    wanted = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SIZES and s != "examples"]
    if unknown:
        p.error(f"unknown size(s): {', '.join(unknown)} (known: {', '.join(SIZES)}, examples)")
    OUT_DIR.mkdir(exist_ok=True)
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    m = machine()
    body: list[str] = []
    raw: dict[str, Any] = {"machine": m, "started": started.isoformat()}
    for name in wanted:
        if name == "examples":
            bench_examples(body, raw)
        else:
            size = SIZES[name]
            if args.naive_cap is not None and size.naive_limit_s is not None:
                size = replace(size, naive_limit_s=min(size.naive_limit_s, args.naive_cap))
            bench_size(size, args.seed, body, raw)
    load_after = os.getloadavg()
    raw["loadavg"] = [load_before, load_after]
    (OUT_DIR / "results.json").write_text(json.dumps(raw, indent=1, default=str))

    cmd = "python benchmarks/engine.py " + " ".join(argv if argv is not None else sys.argv[1:])
    head = [
        "## Engine",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC on commit `{m['commit']}` with `{cmd.strip()}`.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; Python {m['python']}, "
        f"OR-Tools {m['ortools']}. Load average (1 min) {load_before[0]:.1f} before and "
        f"{load_after[0]:.1f} after the run: other jobs shared the CPU, so times may be noisy.",
        "",
        "Each method runs in a fresh process; *wall s* is the method's own time (model "
        "building included), *peak RSS* the process's high-water mark when it returns (before "
        "the check). *Level-1 gap* is the first priority tier where the method's own bound "
        "exceeds what it placed (`0`: level 1 proven optimal). The greedy's bound is the "
        "trivial one (everyone who could be placed alone). *vs engine* is people placed per "
        "tier minus the engine's. *check* runs `allocation.check` on the plan.",
    ]
    text = "\n".join(head + body) + "\n"
    if args.out:
        write_section(args.out, text)
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
