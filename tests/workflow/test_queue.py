"""Runs are jobs: ``POST /allocations`` queues one and a worker runs it.

In-process (SQLite or PostgreSQL): the web app started with no local worker only queues,
and a worker thread of the test takes the run; ``Prefer: respond-async`` answers 202 at
once and the run is seen queued, running, then done."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from app.allocations import runner, service
from app.allocations.models import AllocationRun
from app.allocations.worker import Worker
from app.core.config import get_settings
from app.core.db import get_sessionmaker
from tests.workflow.factories import make_request, make_shelter
from tests.workflow.procs import engine_children

ASYNC = {"Prefer": "respond-async"}


@pytest.fixture
def web_only(db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The app as a production web process: LOCAL_WORKER=off, it never runs a run."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    monkeypatch.setattr(get_settings(), "local_worker", "off")
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


def _night(session: Any) -> None:
    make_shelter(session, rooms=[{"beds": 2}, {"beds": 3}])
    make_request(session, members=[(30, "F")])
    session.commit()


def _status(client: Any, location: str, headers: dict[str, str]) -> str:
    r = client.get(location, headers=headers)
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


def _until(what: Any, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_respond_async_202_then_queued_running_done(web_only, session, auth, monkeypatch) -> None:
    _night(session)
    operator = auth("operator")
    r = web_only.post("/api/v1/allocations", headers={**operator, **ASYNC})
    assert r.status_code == 202, r.text
    assert r.headers["Preference-Applied"] == "respond-async"
    location = r.headers["Location"]
    assert location == f"/api/v1/allocations/{r.json()['id']}"
    assert r.json()["status"] == "queued" and r.json()["proposals"] == []
    assert _status(web_only, location, operator) == "queued"  # no worker: it waits
    # A worker takes it; the engine is held until the test has seen it running.
    seen_running = threading.Event()
    real_solve = service._solve_bounded

    def solve_when_seen(*args: Any) -> Any:
        assert seen_running.wait(60)
        return real_solve(*args)

    monkeypatch.setattr(service, "_solve_bounded", solve_when_seen)
    worker = Worker(get_settings())
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    try:
        _until(lambda: _status(web_only, location, operator) == "running")
    finally:
        seen_running.set()
        thread.join(60)
    done = web_only.get(location, headers=operator).json()
    assert done["status"] == "optimal" and len(done["proposals"]) == 1
    assert done["version"] >= 3  # queued, claimed, finished: each a new ETag
    with get_sessionmaker()() as s:
        run = s.get(AllocationRun, done["id"])
        assert run.attempts == 1 and run.claimed_by and run.queued_at <= run.started_at
        assert run.stats["timings_s"]["queue_wait"] >= 0


def test_the_web_process_never_runs_the_engine(web_only, session, auth, monkeypatch) -> None:
    """No worker: the synchronous POST waits its bound, answers 503 with the run's id, and
    the run stays queued for a worker; this process started no engine."""
    _night(session)

    def no_engine() -> Any:
        raise AssertionError("the web process asked for the engine")

    engines = engine_children()  # a warm engine other tests' workers left: not new ones
    monkeypatch.setattr(runner, "get_runner", no_engine)
    monkeypatch.setattr(service, "solve_bound_s", lambda settings: 0.5)
    monkeypatch.setattr("app.allocations.router.WAIT_MARGIN_S", 0.5)
    operator = auth("operator")
    r = web_only.post("/api/v1/allocations", headers=operator)
    assert r.status_code == 503
    body = r.json()
    assert body["allocation_id"] and "has not finished" in body["detail"]
    assert "nothing was changed" not in body["detail"]
    location = f"/api/v1/allocations/{body['allocation_id']}"
    assert _status(web_only, location, operator) == "queued"
    assert engine_children() == engines


def test_a_synchronous_post_answers_the_run_a_worker_finished(web_only, session, auth) -> None:
    _night(session)
    worker = Worker(get_settings())
    thread = threading.Thread(target=worker.serve, daemon=True)
    thread.start()
    try:
        r = web_only.post("/api/v1/allocations", headers=auth("operator"))
    finally:
        worker.stop.set()
        thread.join(60)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "optimal" and len(r.json()["proposals"]) == 1
    assert worker.runs == 1  # the worker ran it, not the web process


def test_prefer_among_other_preferences(client, session, auth) -> None:
    _night(session)
    headers = {**auth("operator"), "Prefer": "return=minimal, Respond-Async; wait=5"}
    r = client.post("/api/v1/allocations", headers=headers)
    assert r.status_code == 202 and r.headers["Preference-Applied"] == "respond-async"
    operator = auth("operator")
    _until(lambda: _status(client, r.headers["Location"], operator) == "optimal")
    # Without it: the finished run, 201, as the contract always said.
    plain = client.post("/api/v1/allocations", headers=operator)
    assert plain.status_code == 201 and "Preference-Applied" not in plain.headers
