"""kill -9 of the worker running an allocation, on real processes (a web server and worker
processes on PostgreSQL): its engine process goes with it, its lease lapses within
LEASE_TTL_S, and the run is retried by another worker and finishes; killed on every attempt
(ALLOCATION_MAX_ATTEMPTS), it ends ``failed`` with why. Never stuck ``running``.

Costs about three minutes (département-size nights, four leases lapsing); PostgreSQL only."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from app.allocations import queue
from app.allocations.models import AllocationRun
from app.auth.models import Role
from app.auth.service import create_token
from app.core.db import get_sessionmaker
from app.demo.generated import load_generated_night
from app.territories.service import create_territory
from tests.conftest import DEFAULT_TERRITORY_ID
from tests.workflow.procs import alive, engine_children, start_app, stop, wait_for

pytestmark = pytest.mark.postgres

# The wall clock bounds the engine: busy for its whole limit on these nights.
ENV = {"ALLOCATION_TIME_LIMIT_S": "10", "ALLOCATION_DETERMINISTIC": "false"}
# A lapse (30 s), a sweep (5 s), a run (10 s + start): generous.
RETRY_S = 180


def _run(run_id: str) -> AllocationRun:
    with get_sessionmaker()() as s:
        run = s.get(AllocationRun, run_id)
        assert run is not None
        s.expunge(run)
        return run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One web process (no local worker) and worker processes, replaced as they are killed."""

    def __init__(self, database_url: str, tmp: Path) -> None:
        self.url, self.tmp = database_url, tmp
        self.port = _free_port()
        self.web = start_app(["serve", "--port", str(self.port)], database_url, tmp / "web.log",
                             HOLD_EXPIRY_CHECK_S="5", **ENV)  # fmt: skip
        self.workers: dict[int, subprocess.Popen[bytes]] = {}
        self.killed: list[int] = []

    def add_worker(self) -> None:
        proc = start_app(["worker"], self.url, self.tmp / "workers.log", **ENV)
        self.workers[proc.pid] = proc

    def log(self) -> str:
        return "".join(p.read_text()[-1500:] for p in self.tmp.glob("*.log"))

    def post(self, token: str) -> str:
        base = f"http://127.0.0.1:{self.port}"
        assert wait_for(lambda: _ready(base), 120), self.log()
        r = httpx.post(
            f"{base}/api/v1/allocations",
            headers={"Authorization": f"Bearer {token}", "Prefer": "respond-async"},
            timeout=60,
        )
        assert r.status_code == 202, r.text
        return str(r.json()["id"])

    def kill_claimer(self, run_id: str, attempt: int) -> None:
        """Wait for the run's ``attempt`` to be solving, then kill -9 its worker."""

        def solving() -> int | None:
            run = _run(run_id)
            if run.status != "running" or run.attempts != attempt or not run.claimed_by:
                return None
            pid = int(run.claimed_by.split(":")[1])
            return pid if engine_children(pid) else None

        pid = wait_for(solving, RETRY_S)
        assert pid in self.workers, self.log()
        engines = engine_children(pid)
        os.kill(pid, signal.SIGKILL)
        self.workers.pop(pid).wait(10)
        self.killed.append(pid)
        # Its engine stops rather than solving for nobody.
        assert wait_for(lambda: not any(alive(p) for p in engines), 10)
        self.add_worker()  # the pool stays at two

    def close(self) -> None:
        for proc in [*self.workers.values(), self.web]:
            stop(proc, signal.SIGTERM, 120)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_kill_9_of_the_running_worker(session, migrated_database, tmp_path) -> None:
    pdc = create_territory(session, "62", "Pas-de-Calais")
    session.flush()
    load_generated_night(session, 150, 600, seed=0, territory_id=DEFAULT_TERRITORY_ID)
    load_generated_night(session, 150, 600, seed=1, territory_id=pdc.id)
    _, nord_token = create_token(
        session, Role.operator, "death 59", territory_id=DEFAULT_TERRITORY_ID
    )
    _, pdc_token = create_token(session, Role.operator, "death 62", territory_id=pdc.id)
    session.commit()
    session.close()
    cluster = Cluster(migrated_database, tmp_path)
    try:
        cluster.add_worker()
        cluster.add_worker()
        # Killed once: another worker runs it again, to the end.
        retried = cluster.post(nord_token)
        cluster.kill_claimer(retried, attempt=1)
        over = wait_for(lambda: _run(retried).status not in queue.ACTIVE_STATUSES, RETRY_S)
        assert over, cluster.log()
        run = _run(retried)
        assert run.status in ("optimal", "feasible"), (run.status, run.error)
        assert run.attempts == 2 and run.stats and run.stats["proposals"] > 0
        assert int((run.claimed_by or "::").split(":")[1]) not in cluster.killed
        # Killed on both attempts: failed, with why, not stuck running.
        doomed = cluster.post(pdc_token)
        cluster.kill_claimer(doomed, attempt=1)
        cluster.kill_claimer(doomed, attempt=2)
        over = wait_for(lambda: _run(doomed).status not in queue.ACTIVE_STATUSES, RETRY_S)
        assert over, cluster.log()
        run = _run(doomed)
        assert run.status == "failed" and run.error.startswith(queue.DEAD_WORKER)
        assert "tried 2 time(s)" in run.error
    finally:
        cluster.close()
