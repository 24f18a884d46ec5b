"""Periodic runs, the background loop, and the audit trail."""

from __future__ import annotations

import time

from sqlalchemy import select

from app.allocations.background import periodic_run_once
from app.allocations.models import AllocationRun
from app.allocations.worker import Worker
from app.core.config import get_settings
from app.core.db import get_sessionmaker
from tests.workflow.factories import make_request, make_shelter


def test_periodic_runs_only_when_something_changed(session, monkeypatch) -> None:
    settings = get_settings()
    monkeypatch.setattr(settings, "allocation_interval_s", 60.0)
    worker = Worker(settings)  # the scheduler only queues: a worker runs
    make_shelter(session, rooms=[{"beds": 1}])
    session.commit()
    assert periodic_run_once(settings) is None  # nobody waits
    make_request(session)
    make_request(session)  # one will stay unplaced: the state still has a pending request
    session.commit()
    first = periodic_run_once(settings)
    assert first is not None and _status(first) == "queued"
    assert periodic_run_once(settings) is None  # queued already: not twice
    assert worker.run_once() == first and _status(first) == "optimal"
    assert periodic_run_once(settings) is None  # nothing changed since
    make_request(session, members=[(40, "M")])
    session.commit()
    second = periodic_run_once(settings)
    assert second is not None and second != first
    assert worker.run_once() == second
    with get_sessionmaker()() as s:
        run = s.get(AllocationRun, second)
        assert run.trigger == "schedule" and run.triggered_by == "abri"


def _status(run_id: str) -> str:
    with get_sessionmaker()() as s:
        return s.get(AllocationRun, run_id).status


def test_background_loop_runs_and_stops(session, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app

    settings = get_settings()
    monkeypatch.setattr(settings, "allocation_interval_s", 0.2)
    monkeypatch.setattr(settings, "hold_expiry_check_s", 0.2)
    make_shelter(session, rooms=[{"beds": 1}])
    make_request(session)
    session.commit()
    started = time.monotonic()
    with TestClient(create_app()):
        deadline = time.monotonic() + 15
        found = None
        while time.monotonic() < deadline and found is None:
            time.sleep(0.2)
            with get_sessionmaker()() as s:
                found = s.scalar(
                    select(AllocationRun).where(
                        AllocationRun.trigger == "schedule", AllocationRun.status == "optimal"
                    )
                )
        assert found is not None
    # Shutdown did not hang on the loop.
    assert time.monotonic() - started < 30


def test_audit_records_the_workflow(client, session, auth) -> None:
    shelter = make_shelter(session, rooms=[{"beds": 2}])
    req = make_request(session)
    session.commit()
    run = client.post("/api/v1/allocations", headers=auth("operator")).json()
    pid = run["proposals"][0]["placement_id"]
    client.post(
        f"/api/v1/placements/{pid}/decline",
        json={"reason": "Mme X. refused"},
        headers=auth("shelter", shelter.id),
    )
    admin = auth("admin")
    page = client.get("/api/v1/audit", headers=admin).json()
    actions = [e["action"] for e in page["items"]]
    assert {
        "allocation.queued",
        "allocation.started",
        "allocation.finished",
        "placement.created",
    } <= set(actions)
    assert actions[0] == "placement.declined"
    declined = page["items"][0]
    assert declined["actor_role"] == "shelter" and declined["object_id"] == pid
    assert "Mme" not in str(page)  # free text never reaches the log
    assert req.reference not in str(page)
    only = client.get(
        "/api/v1/audit", params={"action": "allocation.", "limit": 1}, headers=admin
    ).json()
    assert only["total"] == 3 and len(only["items"]) == 1
    by_object = client.get("/api/v1/audit", params={"object_id": run["id"]}, headers=admin)
    assert {e["action"] for e in by_object.json()["items"]} == {
        "allocation.queued",
        "allocation.started",
        "allocation.finished",
    }
    assert client.get("/api/v1/audit", headers=auth("operator")).status_code == 403
    assert client.get("/api/v1/audit", headers=auth("viewer")).status_code == 403
