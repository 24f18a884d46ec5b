"""National night: many territories of département size, one run each, on 1 then 2 workers.

    .venv/bin/python benchmarks/national.py [--pg postgresql://postgres@127.0.0.1/test]
        [--territories 20] [--workers 1,2] [--time-limit 10] [--keep]

A PostgreSQL server is needed; fresh databases are created and dropped at the end. Each
territory gets its own generated département night (150 shelters, ~450 free rooms, 600
households, region ``hainaut``, seed = the territory's number, the generator of
``benchmarks/engine.py``). The loaded database is a template: each worker count starts from
an identical copy. For W workers: W ``python -m app worker`` processes are started and
waited for (their engine process warm), then one run per territory is queued at once (as a
national scheduler tick or every desk pressing "run" together) and the script waits until
none is queued or running. Reported from the run rows themselves:

- makespan: first ``queued_at`` to last ``finished_at``;
- per-run wall: ``started_at`` → ``finished_at`` (start, problem, engine, write-back);
- engine: the engine's own wall time (``engine_wall_s``);
- queue wait: ``queued_at`` → ``started_at``.

Prints a Markdown section for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.service import machine  # noqa: E402

SHELTERS, HOUSEHOLDS, REGION = 150, 600, "hainaut"


def _admin(base: str) -> Any:
    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    return url, create_engine(url, isolation_level="AUTOCOMMIT")


def _use(database_url: str | None) -> None:
    """Point this process's app settings, engine and sessions at ``database_url`` (None:
    just close the current one's connections)."""
    from app.core.config import get_settings
    from app.core.db import get_engine, get_sessionmaker

    if get_engine.cache_info().currsize:
        get_engine().dispose()
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()
    if database_url is not None:
        os.environ["DATABASE_URL"] = database_url


def load_template(database_url: str, territories: int) -> list[str]:
    """Migrate, then one territory per département night; the territories' ids."""
    _use(database_url)
    from app.core.db import get_sessionmaker
    from app.core.migrate import upgrade_to_head
    from app.demo.generated import load_generated_night
    from app.territories.service import create_territory

    upgrade_to_head(database_url)
    ids = []
    with get_sessionmaker()() as s:
        for i in range(territories):
            territory = create_territory(s, f"N{i:02d}", f"National bench {i}")
            s.flush()
            load_generated_night(s, SHELTERS, HOUSEHOLDS, seed=i, region=REGION,
                                 territory_id=territory.id)  # fmt: skip
            s.commit()
            ids.append(territory.id)
            print(f"  territory {i + 1}/{territories} loaded", file=sys.stderr, flush=True)
    _use(None)  # closes the template's connections: it is copied next
    return ids


def _engine_children(parent: int) -> int:
    n = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == parent and b"spawn_main" in (entry / "cmdline").read_bytes():
                n += 1
        except (OSError, ValueError, IndexError):
            continue
    return n


def start_workers(n: int, database_url: str, time_limit: float, log: Path) -> list[Any]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ALLOCATION_TIME_LIMIT_S": str(time_limit),
        "ALLOCATION_INTERVAL_S": "0",
        "LOG_LEVEL": "WARNING",
    }
    procs = []
    with log.open("ab") as out:
        for _ in range(n):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "app", "worker"],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    # Ready: its engine process started (warm) and it listens for runs (its LISTEN
    # connection opens when it starts serving, after the warm-up).
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if all(_engine_children(p.pid) for p in procs) and _listening(database_url) >= n:
            return procs
        time.sleep(0.5)
    raise RuntimeError(f"the workers did not start: {log.read_text()[-2000:]}")


def _listening(database_url: str) -> int:
    url = make_url(database_url)
    engine = create_engine(url.set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as c:
            return int(
                c.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = :d AND query LIKE 'LISTEN%'"
                    ),
                    {"d": url.database},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def stop_workers(procs: list[Any]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)


def one_night(database_url: str, territory_ids: list[str], workers: int, args: Any) -> dict:
    log = Path(args.log)
    procs = start_workers(workers, database_url, args.time_limit, log)
    try:
        _use(database_url)
        from sqlalchemy import func, select

        from app.allocations import queue
        from app.allocations.models import AllocationRun
        from app.core.config import get_settings
        from app.core.db import get_sessionmaker

        ids = [queue.enqueue(get_settings(), None, "schedule", tid) for tid in territory_ids]
        deadline = time.monotonic() + len(ids) * (2 * args.time_limit + 40)
        while time.monotonic() < deadline:
            with get_sessionmaker()() as s:
                active = s.scalar(
                    select(func.count())
                    .select_from(AllocationRun)
                    .where(AllocationRun.status.in_(queue.ACTIVE_STATUSES))
                )
            if not active:
                break
            time.sleep(0.5)
        with get_sessionmaker()() as s:
            runs = s.scalars(select(AllocationRun).where(AllocationRun.id.in_(ids))).all()
            rows = [_row(r) for r in runs]
    finally:
        stop_workers(procs)
        _use(None)
    return _summary(rows, workers)


def _row(r: Any) -> dict[str, Any]:
    finished = r.finished_at or datetime.now(UTC)
    placed = sum(
        int(v) for v in ((r.objective or {}).get("people_placed_by_priority") or {}).values()
    )
    return {
        "status": r.status,
        "queued_at": r.queued_at,
        "started_at": r.started_at,
        "finished_at": finished,
        "wall_s": (finished - r.started_at).total_seconds(),
        "wait_s": (r.started_at - r.queued_at).total_seconds(),
        "engine_s": r.engine_wall_s or 0.0,
        "placed": placed,
        "workers": {(r.claimed_by or "?:?").split(":")[1]},
    }


def _summary(rows: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    walls = sorted(r["wall_s"] for r in rows)
    waits = sorted(r["wait_s"] for r in rows)
    engines = sorted(r["engine_s"] for r in rows)
    first = min(r["queued_at"] for r in rows)
    last = max(r["finished_at"] for r in rows)
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return {
        "workers": workers,
        "runs": len(rows),
        "statuses": statuses,
        "makespan_s": (last - first).total_seconds(),
        "wall_p50": statistics.median(walls),
        "wall_max": walls[-1],
        "engine_p50": statistics.median(engines),
        "wait_p50": statistics.median(waits),
        "wait_max": waits[-1],
        "placed": sum(r["placed"] for r in rows),
        "worker_pids": len(set().union(*(r["workers"] for r in rows))),
    }


def report(results: list[dict[str, Any]], args: Any) -> str:
    cmd = (
        f".venv/bin/python benchmarks/national.py --territories {args.territories} "
        f"--workers {args.workers} --time-limit {args.time_limit:g}"
    )
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()} "
        f"({os.cpu_count()} cores, shared with other work; load average at start "
        f"{args.load_at_start}). Command: `{cmd}`. {args.territories} territories, each a "
        f"département night ({SHELTERS} shelters, {HOUSEHOLDS} households, seed = its number), "
        f"ALLOCATION_TIME_LIMIT_S={args.time_limit:g} (deterministic engine, the default), "
        "one run per territory queued at once; PostgreSQL on the same machine.",
        "",
        "| workers | runs | makespan | per-run wall p50 / max | engine p50 | queue wait p50 / max "
        "| people placed | statuses |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        st = ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items()))
        lines.append(
            f"| {r['workers']} | {r['runs']} | {r['makespan_s']:.0f} s | "
            f"{r['wall_p50']:.1f} / {r['wall_max']:.1f} s | {r['engine_p50']:.1f} s | "
            f"{r['wait_p50']:.0f} / {r['wait_max']:.0f} s | {r['placed']} | {st} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1/test")
    parser.add_argument("--territories", type=int, default=20)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--log", default="/tmp/abri-national-workers.log")
    parser.add_argument("--keep", action="store_true", help="keep the template database")
    args = parser.parse_args()
    args.load_at_start = " ".join(f"{x:.1f}" for x in os.getloadavg())
    url, admin = _admin(args.pg)
    template = f"abri_national_{secrets.token_hex(4)}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{template}"'))
    results = []
    try:
        template_url = url.set(database=template).render_as_string(hide_password=False)
        print(f"loading {args.territories} territories into {template}", file=sys.stderr)
        territory_ids = load_template(template_url, args.territories)
        for w in (int(x) for x in args.workers.split(",")):
            copy = f"{template}_w{w}"
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{template}"'))
            try:
                copy_url = url.set(database=copy).render_as_string(hide_password=False)
                print(f"{w} worker(s)…", file=sys.stderr, flush=True)
                results.append(one_night(copy_url, territory_ids, w, args))
                print(results[-1], file=sys.stderr, flush=True)
            finally:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'))
    finally:
        if not args.keep:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
        admin.dispose()
    print(report(results, args))


if __name__ == "__main__":
    main()
