"""Closed requests lose their household detail after the retention period, not before."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select

from app.allocations.models import AllocationRun
from app.audit.models import AuditEvent
from app.core.db import utcnow
from app.core.idempotency_models import IdempotencyRecord
from app.requests.models import PlacementRequest
from app.requests.retention import purge_expired_detail


def _request(session, *, closed_days_ago: float | None, status: str = "ended") -> str:
    now = utcnow()
    req = PlacementRequest(
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
    assert purged.origin_lat is None and purged.purged_at is not None
    assert purged.reference == "SIAO-59-001" and purged.status == "ended"
    for kept in (recent, waiting):
        row = session.get(PlacementRequest, kept)
        assert row.members and row.avoid and row.purged_at is None

    # Purging twice changes nothing more, and the purge itself is audited.
    assert purge_expired_detail(session, retention_days=90).requests == 0
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
