"""kill -9 of the worker running an allocation, on a real server (2 uvicorn workers on
PostgreSQL): its engine process goes with it, the lease lapses within LEASE_TTL_S, a new
run succeeds within 60 s, and the dead worker's run says ``failed``.

Costs about a minute (a server start, a département-size night, two engine runs and the
lease's lapse); PostgreSQL only."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.allocations import service
from app.allocations.models import AllocationLock, AllocationRun
from app.auth.models import Role
from app.auth.service import create_token
from app.core.db import get_sessionmaker
from app.demo.generated import load_generated_night
from tests.workflow.procs import alive, engine_children

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
TIME_LIMIT_S = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ALLOCATION_TIME_LIMIT_S": str(TIME_LIMIT_S),
        # The wall clock bounds the engine: busy for the whole limit on this night.
        "ALLOCATION_DETERMINISTIC": "false",
        "ALLOCATION_INTERVAL_S": "0",
        "HOLD_EXPIRY_CHECK_S": "5",
        "LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--workers", "2", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the server did not start: {log.read_text()[-2000:]}")


def _running_holder() -> tuple[str, int] | None:
    """(run id, pid of the worker holding the lease) once a run is under way."""
    with get_sessionmaker()() as s:
        run = s.query(AllocationRun).filter_by(status="running").one_or_none()
        lock = s.scalars(select(AllocationLock)).first()
        if run is None or lock is None or lock.holder is None:
            return None
        return run.id, int(lock.holder.split(":")[1])


def _wait_for(what, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.2)
    return None


def test_kill_9_of_the_running_worker(session, migrated_database, tmp_path) -> None:
    load_generated_night(session, 150, 600, seed=0, territory_id="ter_59")
    _, token = create_token(session, Role.operator, "death test")
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    port = _free_port()
    server = _start_server(migrated_database, port, tmp_path / "server.log")
    base = f"http://127.0.0.1:{port}/api/v1/allocations"
    try:
        # The run whose worker dies: its client sees the connection drop.
        doomed = threading.Thread(
            target=lambda: _post_quietly(base, headers, timeout=120), daemon=True
        )
        doomed.start()
        found = _wait_for(_running_holder, 90)
        assert found, "the run did not start"
        old_run, worker = found
        engines = _wait_for(lambda: engine_children(worker), 60)
        assert engines, "the engine's process did not start"
        time.sleep(2)  # the engine is solving
        os.kill(worker, signal.SIGKILL)
        killed_at = time.monotonic()
        # Its engine stops within a second or so rather than solving for nobody.
        assert _wait_for(lambda: not any(alive(p) for p in engines), 10)
        answer = None
        while time.monotonic() - killed_at < 60:
            answer = _post_quietly(base, headers, timeout=60)
            if answer is not None and answer.status_code != 409:
                break
            time.sleep(1)
        took = time.monotonic() - killed_at
        assert answer is not None and answer.status_code == 201, answer and answer.text
        assert took <= 60, f"a new run succeeded only {took:.0f} s after the kill"
        with get_sessionmaker()() as s:
            run = s.get(AllocationRun, old_run)
            assert run.status == "failed" and run.error == service.ABANDONED
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)


def _post_quietly(url: str, headers: dict[str, str], timeout: float) -> httpx.Response | None:
    try:
        return httpx.post(url, headers=headers, timeout=timeout)
    except httpx.HTTPError:
        return None
