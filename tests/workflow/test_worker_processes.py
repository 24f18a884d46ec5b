"""Real worker processes (SQLite or PostgreSQL): ``python -m app worker`` finishes its run on
SIGTERM, and ``python -m app serve`` with its local worker answers a real POST, the run
being run by the worker process, not the web process."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import httpx

from app.allocations import queue
from app.allocations.models import AllocationRun
from app.auth.models import Role
from app.auth.service import create_token
from app.core.config import get_settings
from app.core.db import get_sessionmaker
from app.demo.generated import load_generated_night
from tests.conftest import DEFAULT_TERRITORY_ID
from tests.workflow.factories import make_request, make_shelter
from tests.workflow.procs import alive, children, engine_children, start_app, stop, wait_for


def _run(run_id: str) -> AllocationRun:
    with get_sessionmaker()() as s:
        run = s.get(AllocationRun, run_id)
        assert run is not None
        s.expunge(run)
        return run


def _pid_of(run: AllocationRun) -> int:
    assert run.claimed_by, run.status
    return int(run.claimed_by.split(":")[1])


def test_sigterm_finishes_the_current_run_then_exits(
    session, migrated_database: str, tmp_path: Path
) -> None:
    load_generated_night(session, 150, 600, seed=0, territory_id=DEFAULT_TERRITORY_ID)
    session.commit()
    session.close()
    log = tmp_path / "worker.log"
    # The wall clock bounds the engine: busy for its whole limit on this night.
    env = {"ALLOCATION_TIME_LIMIT_S": "6", "ALLOCATION_DETERMINISTIC": "false"}
    worker = start_app(["worker"], migrated_database, log, **env)
    try:
        run_id = queue.enqueue(get_settings(), None, "api", DEFAULT_TERRITORY_ID)
        running = wait_for(lambda: _run(run_id).status == "running", 120)
        assert running, log.read_text()[-2000:]
        assert _pid_of(_run(run_id)) == worker.pid
        # As systemd or Ctrl-C would: the whole process group, the engine's process too.
        os.killpg(worker.pid, signal.SIGTERM)
        code = worker.wait(120)
    finally:
        stop(worker, signal.SIGKILL)
    assert code == 0, log.read_text()[-2000:]
    run = _run(run_id)
    assert run.status in ("optimal", "feasible"), (run.status, run.error)
    assert run.attempts == 1 and run.stats and run.stats["proposals"] > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_starts_its_local_worker_which_runs_the_post(
    session, migrated_database: str, tmp_path: Path
) -> None:
    make_shelter(session, rooms=[{"beds": 2}, {"beds": 3}])
    make_request(session, members=[(30, "F")])
    make_request(session, members=[(40, "M"), (38, "F")])
    _, token = create_token(session, Role.operator, "serve test")
    session.commit()
    session.close()
    port = _free_port()
    log = tmp_path / "serve.log"
    # LOCAL_WORKER=process is what "auto" means on SQLite (./dev demo, python -m app serve).
    env = {"LOCAL_WORKER": "process", "ALLOCATION_TIME_LIMIT_S": "2"}
    server = start_app(["serve", "--port", str(port)], migrated_database, log, **env)
    base = f"http://127.0.0.1:{port}"
    try:
        up = wait_for(lambda: _ready(base), 120)
        assert up, log.read_text()[-2000:]
        r = httpx.post(
            f"{base}/api/v1/allocations",
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "optimal" and len(r.json()["proposals"]) == 2
        worker = _pid_of(_run(r.json()["id"]))
        # The run's worker is serve's child process, not serve itself, which has no engine.
        assert worker != server.pid and worker in children(server.pid)
        assert engine_children(server.pid) == []
        assert engine_children(worker)
    finally:
        code = stop(server, signal.SIGTERM, 120)
    # uvicorn ends by re-raising the signal it handled: -15 is its clean exit.
    assert code in (0, -signal.SIGTERM), log.read_text()[-2000:]
    assert wait_for(lambda: not alive(worker), 30)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
