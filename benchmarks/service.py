"""Service benchmark: a real server (2 uvicorn workers, PostgreSQL) on loopback, under wrk.

    .venv/bin/python benchmarks/service.py [--pg postgresql://postgres@127.0.0.1/test]
                                           [--duration 20] [--repeat 3] [--keep]

Needs ``wrk`` (Debian: ``apt-get install -y wrk``) and a PostgreSQL server; a fresh database
is created for the run and dropped at the end (``--keep`` keeps it). Only loopback traffic,
bounded duration. Prints a Markdown section for ``docs/benchmarks.md``.

Scenarios (a département-size night: 150 shelters, 600 waiting households, the engine's own
generator, region hainaut, seed 0, as in ``benchmarks/engine.py``):

1. the allocation, from the API call to the proposals committed, against the engine's time;
2. ``GET /api/v1/allocations/latest`` answered in full (200) at about 50 req/s;
3. the dashboard's poll: the same with ``If-None-Match`` (304) at about 500 req/s;
4. ``POST /api/v1/requests`` at about 100 req/s, each with its own Idempotency-Key; rows are
   counted afterwards (no error, no duplicate);
5. ``POST /api/v1/requests`` from one client, one at a time: a request's own cost.

Scenarios 2-4 run ``--repeat`` times in turn and the median is reported with each run's p99:
the machine may be shared, and one run's tail says more about a neighbour's burst than about
the service.

wrk is closed-loop; the Lua script paces it: each wrk thread hands out send slots at the
target rate to whichever of its connections is free. Latencies are per request (send to
last byte). If every connection is busy a slot waits unmeasured (coordinated omission): the
achieved rate is reported next to the latencies so that this shows.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHELTERS, HOUSEHOLDS, REGION, SEED = 150, 600, "hainaut", 0
THREADS = 2

_LUA_COMMON = r"""
counter = 0
next_tid = 0
function setup(thread)
  -- Sets the global "tid" in that thread's own Lua state.
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end
-- Pacing: each thread hands out send slots INTERVAL_MS apart to whichever of its
-- connections asks, so the offered rate holds whatever the latency (as long as there are
-- enough connections).
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } abri_timeval;
int gettimeofday(abri_timeval *tv, void *tz);
]]
local tv = ffi.new("abri_timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end
local next_slot = 0
function delay()
  local now = now_ms()
  if next_slot < now then next_slot = now end
  local wait = next_slot - now
  next_slot = next_slot + INTERVAL_MS
  return math.floor(wait)
end
function done(summary, latency, requests)
  local out = io.open(OUT_FILE, "w")
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "errors_status": %d, "errors_connect": %d, ' ..
    '"errors_read": %d, "errors_timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"p999_us": %d, "max_us": %d}',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.timeout, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
  out:close()
end
"""

_LUA_GET = r"""
function request()
  return wrk.format("GET", PATH, HEADERS)
end
"""

_LUA_POST_REQUEST = r"""
function request()
  counter = counter + 1
  local key = string.format("%s-%d-%d", RUN_TAG, tid, counter)
  local body = string.format(
    '{"reference": "B-%s", "priority": %d, "origin": {"lat": 50.36, "lon": 3.52}, ' ..
    '"max_km": 80, "members": [{"age": 31, "sex": "F"}, {"age": 6, "sex": "M"}], ' ..
    '"needs": {"dv_specialised": true}}', key, (counter % 4) + 1)
  local headers = {}
  for k, v in pairs(HEADERS) do headers[k] = v end
  headers["Idempotency-Key"] = key
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", PATH, headers, body)
end
"""


def _lua(template: str, **values: Any) -> str:
    head = []
    for name, value in values.items():
        if isinstance(value, dict):
            # Long brackets: an ETag carries double quotes.
            items = ", ".join(f'["{k}"] = [==[{v}]==]' for k, v in value.items())
            head.append(f"{name} = {{{items}}}")
        elif isinstance(value, str):
            head.append(f'{name} = "{value}"')
        else:
            head.append(f"{name} = {value}")
    return "\n".join(head) + "\n" + _LUA_COMMON + template


def wrk(
    url: str,
    template: str,
    *,
    rate: float,
    connections: int,
    duration: int,
    **values: Any,
) -> dict[str, Any]:
    """Run wrk paced at about ``rate`` req/s; returns its summary (latencies in ms)."""
    load = _load()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        script = Path(tmp) / "script.lua"
        interval_ms = 1000 * THREADS / rate  # per thread
        script.write_text(_lua(template, INTERVAL_MS=interval_ms, OUT_FILE=str(out), **values))
        cmd = [
            "wrk",
            f"-t{THREADS}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            url,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"wrk failed: {done.stdout[-500:]} {done.stderr[-500:]}")
        data = json.loads(out.read_text())
    seconds = data["duration_us"] / 1e6
    return {
        "requests": data["requests"],
        "rate": round(data["requests"] / seconds, 1),
        "errors": data["errors_status"]
        + data["errors_connect"]
        + data["errors_read"]
        + data["errors_timeout"],
        "p50_ms": data["p50_us"] / 1000,
        "p90_ms": data["p90_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "p999_ms": data["p999_us"] / 1000,
        "max_ms": data["max_us"] / 1000,
        "cmd": " ".join(cmd[:-3]),
        "load": load,
    }


SEQUENTIAL_POSTS = 300


def summarise(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of one scenario: the median of each figure (the worst max), and every
    run's p99."""
    out: dict[str, Any] = {
        key: statistics.median(r[key] for r in measured)
        for key in ("rate", "p50_ms", "p90_ms", "p99_ms")
    }
    out["max_ms"] = max(r["max_ms"] for r in measured)
    out["requests"] = sum(r["requests"] for r in measured)
    out["errors"] = sum(r["errors"] for r in measured)
    out["p99_each_ms"] = [r["p99_ms"] for r in measured]
    out["load_each"] = [r["load"] for r in measured]
    return out


def sequential_posts(port: int, headers: dict[str, str], tag: str, n: int) -> dict[str, Any]:
    """One client, one request at a time, one keep-alive connection: what a single request
    costs with no queueing in the server (http.client: little client overhead)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies = []
    for i in range(n):
        body = json.dumps(
            {
                "reference": f"S-{tag}-{i}",
                "priority": i % 4 + 1,
                "origin": {"lat": 50.36, "lon": 3.52},
                "max_km": 80,
                "members": [{"age": 31, "sex": "F"}, {"age": 6, "sex": "M"}],
                "needs": {"dv_specialised": True},
            }
        )
        h = {**headers, "Idempotency-Key": f"{tag}-{i}", "Content-Type": "application/json"}
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/requests", body, h)
        answer = conn.getresponse()
        answer.read()
        latencies.append((time.perf_counter() - t0) * 1000)
        if answer.status != 201:
            raise RuntimeError(f"sequential POST answered {answer.status}")
    conn.close()
    latencies.sort()
    return {
        "requests": n,
        "p50_ms": latencies[n // 2],
        "p90_ms": latencies[int(0.9 * n)],
        "p99_ms": latencies[int(0.99 * n)],
        "max_ms": latencies[-1],
        "load": _load(),
    }


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- database ---------------------------------------------------------------------------------


def create_database(base: str) -> tuple[str, Any]:
    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"abri_bench_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def load_night(database_url: str) -> dict[str, Any]:
    """The generator's département night, as rows (shelters, rooms, pending requests)."""
    os.environ["DATABASE_URL"] = database_url
    from allocation.tools.generate import generate_problem
    from app.auth.models import Role
    from app.auth.service import create_token
    from app.core.config import get_settings
    from app.core.db import get_sessionmaker, new_id
    from app.core.migrate import upgrade_to_head
    from app.requests.models import PlacementRequest
    from app.shelters.models import Room, Shelter
    from app.territories.models import Territory

    get_settings.cache_clear()
    upgrade_to_head(database_url)
    problem = generate_problem(SHELTERS, HOUSEHOLDS, seed=SEED, region=REGION)
    shelter_ids = {s.id: new_id("shl") for s in problem.shelters}
    request_ids = {h.id: new_id("req") for h in problem.households}
    rooms = 0
    with get_sessionmaker()() as s, s.begin():
        # Migration 0006 made the database's one territory (TERRITORY_CODE, default 59).
        territory_id = s.scalars(select(Territory.id)).one()
        for sh in problem.shelters:
            s.add(
                Shelter(
                    id=shelter_ids[sh.id],
                    territory_id=territory_id,
                    name=f"Bench {sh.id}",
                    kind="dv_shelter" if sh.dv_specialised else "chu",
                    lat=sh.lat,
                    lon=sh.lon,
                    women=sh.women,
                    men=sh.men,
                    children=sh.children,
                    max_boy_age=sh.max_boy_age,
                    dv_specialised=sh.dv_specialised,
                    secure=sh.secure,
                    wheelchair=sh.wheelchair,
                    pets=sh.pets,
                    languages=list(sh.languages),
                    commune="Hainaut",
                    availability_updated_at=datetime.now(UTC),
                )
            )
        s.flush()
        for sh in problem.shelters:
            for i, r in enumerate(sh.rooms):
                rooms += 1
                s.add(
                    Room(
                        shelter_id=shelter_ids[sh.id],
                        label=f"{r.id}-{i}",
                        beds=r.beds,
                        cribs=r.cribs,
                        shared=r.shared,
                        sex=r.sex,
                        wheelchair=r.wheelchair,
                    )
                )
        for h in problem.households:
            s.add(
                PlacementRequest(
                    territory_id=territory_id,
                    id=request_ids[h.id],
                    reference=f"GEN-{h.id}",
                    status="pending",
                    priority=h.priority,
                    waiting_since=h.waiting_since,
                    origin_lat=h.origin.lat,
                    origin_lon=h.origin.lon,
                    max_km=h.max_km,
                    members=[m.model_dump() for m in h.members],
                    needs=h.needs.model_dump(),
                    avoid=[z.model_dump() for z in h.avoid],
                    excluded_shelters=[shelter_ids[x] for x in h.excluded_shelters],
                    keep_apart=[
                        {"request_id": request_ids[k.household], "km": k.km} for k in h.keep_apart
                    ],
                )
            )
        _, operator = create_token(s, Role.operator, "bench operator")
        _, viewer = create_token(s, Role.viewer, "bench viewer")
    return {
        "operator": operator,
        "viewer": viewer,
        "rooms": rooms,
        "beds": sum(r.beds for sh in problem.shelters for r in sh.rooms),
        "people": sum(len(h.members) for h in problem.households),
    }


# --- server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    database_url: str, port: int, time_limit: float, deterministic: bool = True
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ALLOCATION_TIME_LIMIT_S": str(time_limit),
        "ALLOCATION_DETERMINISTIC": "true" if deterministic else "false",
        "ALLOCATION_INTERVAL_S": "0",
        # One solver worker, started by serve itself (runs are jobs for workers).
        "LOCAL_WORKER": "process",
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--workers", "2", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                time.sleep(1)  # both workers up
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop_server(proc)
    raise RuntimeError("the server did not become ready within 60 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    # Only the process group this script started.
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


# --- scenarios --------------------------------------------------------------------------------


def bench(args: argparse.Namespace) -> dict[str, Any]:
    database_url, drop = create_database(args.pg)
    proc = None
    try:
        night = load_night(database_url)
        port = free_port()
        proc = start_server(database_url, port, args.time_limit, not args.wall_clock)
        base = f"http://127.0.0.1:{port}"
        op = {"Authorization": f"Bearer {night['operator']}"}
        viewer = {"Authorization": f"Bearer {night['viewer']}"}
        results: dict[str, Any] = {"night": night}

        t0 = time.perf_counter()
        r = httpx.post(f"{base}/api/v1/allocations", headers=op, timeout=300)
        api_s = time.perf_counter() - t0
        r.raise_for_status()
        run = r.json()
        results["allocation"] = {
            "api_s": round(api_s, 2),
            "engine_wall_s": run["stats"]["engine"]["wall_s"],
            "timings_s": run["stats"]["timings_s"],
            "status": run["status"],
            "proposals": len(run["proposals"]),
            "unplaced": len(run["unplaced"]),
            "body_bytes": len(r.content),
        }
        etag = r.headers["ETag"]
        latest = f"{base}/api/v1/allocations/latest"
        tag = secrets.token_hex(3)
        runs: dict[str, list[dict[str, Any]]] = {
            "latest_200": [],
            "latest_304": [],
            "create_request": [],
        }
        # The three scenarios in turn, --repeat times: a burst of another job on the machine
        # lands on one run of a scenario, not on all of them (the median is reported).
        for i in range(args.repeat):
            runs["latest_200"].append(
                wrk(
                    latest,
                    _LUA_GET,
                    rate=50,
                    connections=8,
                    duration=args.duration,
                    PATH="/api/v1/allocations/latest",
                    HEADERS=viewer,
                )
            )
            runs["latest_304"].append(
                wrk(
                    latest,
                    _LUA_GET,
                    rate=500,
                    connections=32,
                    duration=args.duration,
                    PATH="/api/v1/allocations/latest",
                    HEADERS={**viewer, "If-None-Match": etag},
                )
            )
            runs["create_request"].append(
                wrk(
                    f"{base}/api/v1/requests",
                    _LUA_POST_REQUEST,
                    rate=100,
                    connections=16,
                    duration=args.duration,
                    PATH="/api/v1/requests",
                    HEADERS=op,
                    RUN_TAG=f"{tag}r{i}",  # new keys each run: no replay
                )
            )
        for name, measured in runs.items():
            results[name] = summarise(measured)
        results["sequential_post"] = sequential_posts(port, op, f"{tag}s", SEQUENTIAL_POSTS)
        time.sleep(1)  # requests in flight when wrk stopped
        engine = create_engine(database_url)
        from app.requests.models import PlacementRequest

        with engine.connect() as conn:
            like = PlacementRequest.reference.like(f"B-{tag}r%")
            rows = conn.scalar(select(func.count()).where(like))
            distinct = conn.scalar(
                select(func.count(func.distinct(PlacementRequest.reference))).where(like)
            )
        engine.dispose()
        results["create_request"].update({"rows": rows, "distinct_keys": distinct})
        return results
    finally:
        if proc is not None:
            stop_server(proc)
        if not args.keep:
            drop()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"{os.cpu_count()} cores ({cpu}){mem}, {platform.platform()}, Python "
        f"{platform.python_version()}, {pg or 'PostgreSQL'}"
    )


def report(res: dict[str, Any], args: argparse.Namespace) -> str:
    a = res["allocation"]
    n = res["night"]
    lines = [
        "## Service",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}: a real server "
        "(`python -m app serve --workers 2`, PostgreSQL on the same machine) on loopback, "
        "loaded with `wrk` (4.1) from the same machine, so the load generator shares the two "
        "cores with the server and the database. Command: "
        f"`.venv/bin/python benchmarks/service.py --duration {args.duration} "
        f"--repeat {args.repeat}{' --wall-clock' if args.wall_clock else ''} "
        "--out docs/benchmarks.md`.",
        "",
        f"The night: the engine's generator, {SHELTERS} shelters ({n['rooms']} free rooms, "
        f"{n['beds']} beds), {HOUSEHOLDS} waiting households ({n['people']} people), region "
        f"{REGION}, seed {SEED}; `ALLOCATION_TIME_LIMIT_S={args.time_limit:g}`, "
        f"`ALLOCATION_DETERMINISTIC={'false' if args.wall_clock else 'true'}`. Load average "
        f"before the run: {res['load_before']}.",
        "",
        f"Each load scenario ran {args.repeat} time(s) for {args.duration} s, the three in "
        "turn (200, 304, POST, then again), on the same server from its start: the table "
        "gives the median of the runs' figures and the worst max (the first run includes each "
        "worker's first requests); *p99 per run* and the load average (1 min) at each run's "
        "start show the spread.",
        "",
        "| what | offered | p50 | p90 | p99 | max | errors | p99 per run (load avg) | target |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def row(name: str, r: dict[str, Any], target: str) -> str:
        each = ", ".join(
            f"{p99:.1f} ({load.split()[0]})"
            for p99, load in zip(r["p99_each_ms"], r["load_each"], strict=True)
        )
        return (
            f"| {name} | {r['rate']:.0f} req/s, {r['requests']} requests | "
            f"{r['p50_ms']:.1f} ms | {r['p90_ms']:.1f} ms | **{r['p99_ms']:.1f} ms** | "
            f"{r['max_ms']:.0f} ms | {r['errors']} | {each} | {target} |"
        )

    lines.append(
        row("`GET /allocations/latest`, 304 (If-None-Match)", res["latest_304"], "p99 ≤ 10 ms")
    )
    lines.append(
        row(
            f"`GET /allocations/latest`, 200 (full run, {a['body_bytes'] / 1024:.0f} KiB)",
            res["latest_200"],
            "p99 ≤ 50 ms",
        )
    )
    c = res["create_request"]
    lines.append(row("`POST /requests`, unique Idempotency-Key", c, "p99 ≤ 50 ms, no error"))
    q = res["sequential_post"]
    lines.append(
        f"| `POST /requests`, one client, one request at a time | {q['requests']} requests | "
        f"{q['p50_ms']:.1f} ms | {q['p90_ms']:.1f} ms | {q['p99_ms']:.1f} ms | "
        f"{q['max_ms']:.0f} ms | 0 | ({q['load'].split()[0]}) | – |"
    )
    lines += [
        "",
        f"`POST /requests`: {c['rows']} rows created for {c['distinct_keys']} distinct keys "
        f"(wrk counted {c['requests']} answers; the difference, if any, is requests in flight "
        "when wrk stopped): no duplicate.",
        "",
        f"Allocation of the {HOUSEHOLDS} households, from the API call to the proposals "
        f"committed: **{a['api_s']:.2f} s**, of which the engine {a['engine_wall_s']:.2f} s "
        f"(target: engine + 2 s). Run status {a['status']}, {a['proposals']} proposals, "
        f"{a['unplaced']} unplaced. Server-side timings: "
        + ", ".join(f"{k} {v:.3f} s" for k, v in a["timings_s"].items())
        + " (start = lease + expiry + run row; build = problem from the database; solve = "
        "engine; write = locks, re-checks, placements, reasons, flushed). The rest is the "
        "commit, rendering the 200 answer and HTTP.",
        "",
    ]
    over = a["api_s"] - a["engine_wall_s"]
    p304, p200 = res["latest_304"], res["latest_200"]
    verdicts = [
        ("304 poll p99 ≤ 10 ms at 500 req/s", p304["p99_ms"] <= 10 and p304["rate"] >= 475),
        ("full 200 p99 ≤ 50 ms", p200["p99_ms"] <= 50),
        (
            "POST /requests p99 ≤ 50 ms at 100 req/s, no error, no duplicate",
            c["p99_ms"] <= 50 and c["errors"] == 0 and c["rows"] == c["distinct_keys"],
        ),
        (f"allocation within engine + 2 s (engine + {over:.2f} s)", over <= 2.0),
    ]
    lines += [
        "Targets: "
        + "; ".join(f"{name}: {'met' if ok else '**not met**'}" for name, ok in verdicts)
        + ".",
        "",
        "Reading: the two cores are shared by wrk, both uvicorn workers, PostgreSQL and, on "
        "the machine measured, other jobs (see the load average): tail latencies there are "
        "dominated by waiting for a CPU and vary several-fold between repeated runs, while "
        "the medians stay in milliseconds. A poll that changed nothing is answered from "
        "memory on the event loop (each worker remembers the run's version for at most 1 s "
        "and a token's check for 5 s); the full answer is rendered once per ETag and served "
        "from memory. Each worker warms up (driver, mappers, a full connection pool) and "
        "freezes its start-up heap out of the garbage collector before its first request "
        "(`app/core/runtime.py`). A `POST /requests` is 7 round trips to PostgreSQL (BEGIN, "
        "token, stored key, request, audit row, key claim, COMMIT) and 3 thread hand-offs. "
        "The engine's time is long because "
        "`ALLOCATION_DETERMINISTIC=true` makes it count work rather than seconds; the "
        "service's own part (lease, problem, locked re-check and write, answer) is what the "
        "2 s target is about.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1/test")
    p.add_argument("--duration", type=int, default=20, help="seconds per wrk scenario")
    p.add_argument("--time-limit", type=float, default=10.0, help="ALLOCATION_TIME_LIMIT_S")
    p.add_argument(
        "--wall-clock",
        action="store_true",
        help="ALLOCATION_DETERMINISTIC=false (the engine's limit is wall-clock)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each load scenario, in turn; the median is reported",
    )
    p.add_argument("--keep", action="store_true", help="keep the benchmark database")
    p.add_argument("--json", action="store_true", help="print raw results as JSON too")
    p.add_argument(
        "--out",
        type=Path,
        help="write the section into this Markdown file (e.g. docs/benchmarks.md), replacing "
        "its '## Service' section or appending one; the rest of the file is kept",
    )
    args = p.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 2
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    res = bench(args)
    res["load_before"] = load_before
    if args.json:
        print(json.dumps(res, indent=2, default=str))
    section = report(res, args)
    if args.out:
        write_section(args.out, section)
        print(f"wrote the Service section of {args.out}")
    else:
        print(section)
    return 0


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's own section (up to the next '## ' heading) or append it."""
    text = path.read_text() if path.exists() else ""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "## Service"), None)
    if start is None:
        body = text.rstrip("\n") + ("\n\n" if text.strip() else "") + section
    else:
        end = next(
            # Up to the next heading or marker (another section's <!-- … --> is not ours).
            (i for i in range(start + 1, len(lines)) if lines[i].startswith(("## ", "<!--"))),
            len(lines),
        )
        gap = [""] if end < len(lines) else []
        new = section.rstrip("\n").splitlines()
        body = "\n".join([*lines[:start], *new, *gap, *lines[end:]])
    path.write_text(body.rstrip("\n") + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
