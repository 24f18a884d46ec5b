"""Closed requests lose their household detail after the retention period, not before."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select, update

from app.allocations.models import AllocationRun
from app.audit.models import AuditEvent
from app.core.db import get_sessionmaker, utcnow
from app.core.idempotency_models import IdempotencyRecord
from app.requests.models import PlacementRequest
from app.requests.retention import purge_expired_detail


def _request(session, *, closed_days_ago: float | None, status: str = "ended") -> str:
    now = utcnow()
    req = PlacementRequest(
        territory_id="ter_59",
        reference="SIAO-59-001",
        status=status if closed_days_ago is not None else "pending",
        priority=4,
        waiting_since=now - timedelta(days=100),
        origin_lat=50.36,
        origin_lon=3.52,
        max_km=40,
        members=[{"age": 31, "sex": "F"}, {"age": 4, "sex": "M"}],
        needs={"dv_specialised": True},
        avoid=[{"lat": 50.33, "lon": 3.40, "km": 15}],
        keep_apart=[],
        excluded_shelters=[],
        closed_at=None if closed_days_ago is None else now - timedelta(days=closed_days_ago),
    )
    session.add(req)
    session.flush()
    return req.id


def test_purge_erases_detail_only_past_retention(session) -> None:
    old = _request(session, closed_days_ago=91)
    recent = _request(session, closed_days_ago=89, status="cancelled")
    waiting = _request(session, closed_days_ago=None)
    result = purge_expired_detail(session, retention_days=90)
    session.flush()

    assert result.requests == 1
    purged = session.get(PlacementRequest, old)
    assert purged.members == [] and purged.avoid == [] and purged.needs == {}
    assert purged.origin_lat is None and purged.max_km is None and purged.purged_at is not None
    assert purged.reference is None and purged.status == "ended"
    for kept in (recent, waiting):
        row = session.get(PlacementRequest, kept)
        assert row.members and row.avoid and row.purged_at is None
        assert row.reference == "SIAO-59-001" and row.max_km == 40

    # Purging twice changes nothing more, and the purge itself is audited.
    assert purge_expired_detail(session, retention_days=90).requests == 0
    session.commit()  # audit events are written at commit
    actions = session.scalars(select(AuditEvent.action)).all()
    assert actions.count("retention.purge") == 1


def test_purge_drops_old_replies_and_run_sentences(session) -> None:
    now = utcnow()
    session.add_all(
        [
            IdempotencyRecord(
                token_id="tok_a",
                key="old",
                method="POST",
                path="/x",
                request_hash="h",
                response_status=201,
                response_body={},
                created_at=now - timedelta(days=2),
            ),
            IdempotencyRecord(
                token_id="tok_a",
                key="new",
                method="POST",
                path="/x",
                request_hash="h",
                response_status=201,
                response_body={},
                created_at=now,
            ),
            AllocationRun(
                territory_id="ter_59",
                status="optimal",
                started_at=now - timedelta(days=120),
                finished_at=now - timedelta(days=120),
                unplaced=[
                    {
                        "request_id": "req_1",
                        "code": "no_room_fits",
                        "detail": "no room for 7 within 80 km",
                    }
                ],
            ),
        ]
    )
    session.flush()
    result = purge_expired_detail(session, retention_days=90)
    session.flush()
    assert result.idempotency_records == 1 and result.runs == 1
    assert [r.key for r in session.scalars(select(IdempotencyRecord))] == ["new"]
    run = session.scalars(select(AllocationRun)).one()
    assert run.unplaced == [{"request_id": "req_1", "code": "no_room_fits"}]


def test_purge_command(migrated_database: str, db: None) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "app", "purge"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("purged 0 request(s)")


def _run(client, operator) -> dict:
    r = client.post("/api/v1/allocations", headers=operator)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_purged_request_leaves_no_trace_in_runs_placements_or_the_log(
    client, operator, admin, new_shelter, new_room, new_request
) -> None:
    """A: proposed by run 1, declined with a free-text reason, unplaced by run 2, cancelled,
    closed 100 days ago. B: placed by run 1, still open. C: placed by run 1, then cancelled.
    The purge takes A's reference, detail, km and decline reason, and its link to a shelter
    out of both runs; no audit event ever joined A or C to a placement or a shelter."""
    for name in ("CHU Nord", "CHU Sud", "CHU Est"):
        new_room(new_shelter(name=name)["id"])
    a = new_request(reference="115-RET-AAAA")
    b = new_request(reference="115-RET-BBBB")
    c = new_request(reference="115-RET-CCCC")  # cancelled while proposed
    run1 = _run(client, operator)
    (pa,) = [p for p in run1["proposals"] if p["request_id"] == a["id"]]
    reason = "Mme Martine D. ne veut pas y aller"
    r = client.post(
        f"/api/v1/placements/{pa['placement_id']}/decline",
        json={"reason": reason},
        headers=operator,
    )
    assert r.status_code == 200
    run2 = _run(client, operator)
    assert [u["request_id"] for u in run2["unplaced"]] == [a["id"]]
    assert client.post(f"/api/v1/requests/{c['id']}/cancel", headers=operator).status_code == 200
    assert client.post(f"/api/v1/requests/{a['id']}/cancel", headers=operator).status_code == 200
    etag1 = client.get(f"/api/v1/allocations/{run1['id']}", headers=operator).headers["ETag"]
    with get_sessionmaker()() as s:
        s.execute(
            update(PlacementRequest)
            .where(PlacementRequest.id == a["id"])
            .values(closed_at=utcnow() - timedelta(days=100))
        )
        assert purge_expired_detail(s, retention_days=90).placements == 1
        s.commit()

    got = client.get(f"/api/v1/requests/{a['id']}", headers=operator).json()
    assert got["purged"] and got["reference"] is None and got["max_km"] is None
    assert got["origin"] is None and got["unplaced_detail"] is None
    assert got["last_allocation_id"] is None
    placements = client.get("/api/v1/placements", params={"request_id": a["id"]}, headers=admin)
    assert placements.json()["total"] == 0  # km, reason and shelter went with the rows
    again1 = client.get(f"/api/v1/allocations/{run1['id']}", headers=operator)
    assert again1.headers["ETag"] != etag1  # a poller sees the change
    assert {p["request_id"] for p in again1.json()["proposals"]} == {b["id"], c["id"]}
    again2 = client.get(f"/api/v1/allocations/{run2['id']}", headers=operator)
    assert again2.status_code == 200  # a cut sentence still renders
    assert [u["detail"] for u in again2.json()["unplaced"]] == [None]
    # B is untouched.
    assert client.get(f"/api/v1/requests/{b['id']}", headers=operator).json()["reference"]

    with get_sessionmaker()() as s:
        events = list(s.scalars(select(AuditEvent)))
    log = " ".join(f"{e.object_id} {e.detail}" for e in events)
    assert "115-RET-AAAA" not in log and "Martine" not in log and str(pa["km"]) not in log
    # No event joins A to a placement or a shelter: only the deleted rows did.
    for e in events:
        text = f"{e.object_id} {e.detail}"
        if a["id"] in text or c["id"] in text:
            assert "plc_" not in text and "shl_" not in text, e.action
