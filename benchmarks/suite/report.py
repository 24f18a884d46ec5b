"""The suite's results as Markdown: one row per night and mode, then the worst case per column."""

from __future__ import annotations

from typing import Any

from benchmarks.suite.runner import tiers

HEAD = (
    "| night | mode | status | level 1 P4 / P3 / P2 / P1 | vs optimum | km | km LB | "
    "km over LB | wasted beds | solve s | process s | peak MB | replay | check |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
)


def _pct(v: dict[str, Any]) -> str:
    pct = v.get("km_over_lb_pct")
    if pct is None:
        return "–"
    return f"{pct:.1f} %" + ("" if v.get("km_lb_proven") else " (LB not closed)")


def row(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"| {r['night']} | {r['mode']} | **{r['error']}** |" + " – |" * 11
    vs = r.get("versus", "no optimum")
    if vs != "same":
        vs = f"**{vs}**"
    if r.get("optimum_proven") is False:
        vs += " (optimum not proven)"
    replay = {True: "same", False: "**differs**", None: "–"}[r.get("replay_same")]
    wall = f"{r['wall_s']:.1f}" + (f", {r['wall_s_2']:.1f}" if "wall_s_2" in r else "")
    proc = f"{r['process_s']:.1f}" + (f", {r['process_s_2']:.1f}" if "process_s_2" in r else "")
    lb = f"{r['km_lb']:.0f}" if r.get("km_lb") else "–"
    chk = "pass" if r["check_ok"] else f"**fail**: {r['first_violation'][0][:80]}"
    return (
        f"| {r['night']} | {r['mode']} | {r['status']} | {tiers(r['placed'])} | {vs} | "
        f"{r['total_km']:.0f} | {lb} | {_pct(r)} | {r['wasted_beds']} | {wall} | {proc} | "
        f"{r['peak_mb']:.0f} | {replay} | {chk} |"
    )


def worst_cases(results: list[dict[str, Any]], time_limit: float) -> list[str]:
    """One line per target of issue 10: how many rows meet it and the worst row."""
    ok = [r for r in results if "error" not in r]
    lines = [f"- runs that failed to return a plan: {len(results) - len(ok)}"]
    if not ok:
        return lines

    def worst(key: str) -> dict[str, Any]:
        return max(ok, key=lambda r: r.get(key) or 0)

    def at(r: dict[str, Any]) -> str:
        return f"{r['night']} ({r['mode']})"

    unproven = sorted({r["night"] for r in ok if r.get("optimum_proven") is False})
    lines.append(
        f"- nights whose optimum the oracle has not proven: {', '.join(unproven) or 'none'}"
    )
    below = ", ".join(f"{at(r)} {r['versus']}" for r in ok if r.get("sign", 0) < 0)
    lines.append(
        f"- level 1 equal to the optimum: {sum(r.get('sign') == 0 for r in ok)} of {len(ok)} "
        f"runs; below it: {below or 'none'}"
    )
    above = [at(r) for r in ok if r.get("sign", 0) > 0 and r.get("optimum_proven")]
    if above:
        lines.append(f"- **above the stored optimum (a bug somewhere)**: {', '.join(above)}")
    for mode in ("deterministic", "wall clock"):
        rows = [r for r in ok if r["mode"] == mode]
        proven = sum(r["status"] == "optimal" for r in rows)
        lines.append(f"- proven (`status: optimal`), {mode}: {proven} of {len(rows)}")
    w = worst("km_over_lb_pct")
    lines.append(f"- km over the lower bound: worst {_pct(w)} on {at(w)}")
    within = sum((r.get("km_over_lb_pct") or 0) <= 5 for r in ok)
    lines.append(f"- km within 5 % of the bound: {within} of {len(ok)}")
    w = max(ok, key=lambda r: max(r["wall_s"], r.get("wall_s_2", 0)))
    slow = sum(max(r["wall_s"], r.get("wall_s_2", 0)) > time_limit + 0.5 for r in ok)
    lines.append(
        f"- `solve` wall time: worst {max(w['wall_s'], w.get('wall_s_2', 0)):.2f} s on {at(w)}; "
        f"over limit + 0.5 s: {slow}"
    )
    w = max(ok, key=lambda r: max(r["process_s"], r.get("process_s_2", 0)))
    slow = sum(max(r["process_s"], r.get("process_s_2", 0)) > time_limit + 1.5 for r in ok)
    lines.append(
        f"- process time: worst {max(w['process_s'], w.get('process_s_2', 0)):.2f} s on "
        f"{at(w)}; over limit + 1.5 s: {slow}"
    )
    w = worst("peak_mb")
    lines.append(f"- peak RSS: worst {w['peak_mb']:.0f} MB on {at(w)}")
    w = worst("wasted_beds")
    lines.append(f"- wasted beds: most {w['wasted_beds']} on {at(w)}")
    differ = [r["night"] for r in ok if r.get("replay_same") is False]
    lines.append(f"- deterministic replays that differ: {', '.join(differ) or 'none'}")
    failed = [at(r) for r in ok if not r["check_ok"]]
    lines.append(f"- plans failing `allocation.check`: {', '.join(failed) or 'none'}")
    return lines


def markdown(data: dict[str, Any], command: str, machine: dict[str, str]) -> str:
    m = machine
    load = data["loadavg"]
    busy = " (a CPU-burning process kept another core busy)" if data["stress"] else ""
    head = [
        "### Results",
        "",
        f"Measured {data['started'][:16].replace('T', ' ')} UTC on commit `{m['commit']}` with "
        f"`{command}`{busy}.",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; Python {m['python']}, "
        f"OR-Tools {m['ortools']}. Load average (1 min) {load[0][0]:.1f} before and "
        f"{load[1][0]:.1f} after.",
        "",
        "Worst case per column:",
        "",
        *worst_cases(data["results"], data["time_limit_s"]),
        "",
        *HEAD,
        *(row(r) for r in data["results"]),
    ]
    return "\n".join(head) + "\n"
