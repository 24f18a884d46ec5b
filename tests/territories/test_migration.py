"""Migration 0006 on a database holding a single SIAO's night: nothing is lost.

A fresh database of its own (a file on SQLite, a new database on the PostgreSQL server) is
upgraded to 0005, filled with one of every row, then upgraded to the head with
TERRITORY_CODE / TERRITORY_NAME set, as an operator of an existing deployment would."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from app.audit.chain import GENESIS, legacy_chain_hash
from app.audit.models import AuditEvent
from app.core.migrate import alembic_config
from tests.conftest import _BASE_URL, IS_POSTGRES, _create_postgres_database

NOW = datetime(2026, 11, 30, 21, 0, tzinfo=UTC)


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """The URL of a database of its own, as its schema owner."""
    if IS_POSTGRES:
        database, drop = _create_postgres_database(_BASE_URL)
        assert database.owner_url is not None
        yield database.owner_url
        drop()
    else:
        yield f"sqlite:///{tmp_path / 'single-siao.db'}"


def _fill(url: str) -> None:
    """One of each row a single-SIAO database holds at 0005, the audit chain included."""
    engine = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool
    )
    rows = {
        "shelters": (
            "INSERT INTO shelters (id, name, kind, lat, lon, women, men, children, dv_specialised,"
            " secure, wheelchair, pets, languages, commune, confidential, active, version,"
            " created_at, updated_at) VALUES ('shl_old', 'CHU Ancien', 'chu', 50.35, 3.52,"
            " true, true, true, false, false, false, false, '[]', 'Valenciennes', false, true,"
            " 1, :now, :now)"
        ),
        "rooms": (
            "INSERT INTO rooms (id, shelter_id, label, beds, cribs, shared, wheelchair,"
            " out_of_service, occupied_beds, version, created_at, updated_at) VALUES"
            " ('room_old', 'shl_old', 'R1', 2, 0, false, false, false, 0, 1, :now, :now)"
        ),
        "allocation_runs": (
            "INSERT INTO allocation_runs (id, status, trigger, started_at, requests_considered,"
            " rooms_considered, unplaced, version) VALUES ('run_old', 'optimal', 'api', :now,"
            " 1, 1, '[]', 1)"
        ),
        "placement_requests": (
            "INSERT INTO placement_requests (id, reference, status, priority, waiting_since,"
            " origin_lat, origin_lon, members, needs, avoid, excluded_shelters, keep_apart,"
            " version, created_at, updated_at) VALUES ('req_old', '115-OLD', 'proposed', 3,"
            " :now, 50.3, 3.4, '[{\"age\": 30, \"sex\": \"F\"}]', '{}', '[]', '[]', '[]', 1,"
            " :now, :now)"
        ),
        "placements": (
            "INSERT INTO placements (id, request_id, shelter_id, allocation_id, status, km,"
            " expires_at, source, version, created_at, updated_at) VALUES ('plc_old',"
            " 'req_old', 'shl_old', 'run_old', 'proposed', 4.2, :later, 'allocation', 1, :now,"
            " :now)"
        ),
        "placement_rooms": (
            "INSERT INTO placement_rooms (placement_id, room_id, shared, beds, active) VALUES"
            " ('plc_old', 'room_old', false, 2, true)"
        ),
        "api_tokens": (
            "INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES"
            " ('tok_old', 'night desk', 'operator', :hash, :now)"
        ),
        "allocation_lock": (
            "INSERT INTO allocation_lock (id, holder, locked_until) VALUES (1, 'gone:1', :now)"
        ),
    }
    params = {"now": NOW, "later": NOW + timedelta(hours=1), "hash": "ab" * 32}
    event = AuditEvent(
        at=NOW,
        actor_token_id="tok_old",
        actor_name="night desk",
        actor_role="operator",
        action="request.create",
        object_type="request",
        object_id="req_old",
        detail={"priority": 3},
    )
    with engine.begin() as conn:
        for statement in rows.values():
            conn.execute(text(statement), params)
        conn.execute(
            text(
                "INSERT INTO audit_events (at, actor_token_id, actor_name, actor_role, action,"
                " object_type, object_id, detail, chain_hash) VALUES (:at, 'tok_old',"
                " 'night desk', 'operator', 'request.create', 'request', 'req_old',"
                " '{\"priority\": 3}', :hash)"
            ),
            {"at": NOW, "hash": legacy_chain_hash(GENESIS, event)},  # a 0005 service's
        )
    engine.dispose()


def test_a_single_siao_database_becomes_one_territory(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = alembic_config(empty_database)
    command.upgrade(cfg, "0005")
    _fill(empty_database)
    monkeypatch.setenv("TERRITORY_CODE", "62")
    monkeypatch.setenv("TERRITORY_NAME", "Pas-de-Calais")
    command.upgrade(cfg, "head")

    engine = create_engine(
        empty_database.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool
    )
    with engine.connect() as conn:
        territories = conn.execute(text("SELECT id, code, name FROM territories")).all()
        assert [tuple(t) for t in territories] == [("ter_62", "62", "Pas-de-Calais")]
        for table, key in (
            ("shelters", "shl_old"),
            ("placement_requests", "req_old"),
            ("placements", "plc_old"),
            ("allocation_runs", "run_old"),
            ("api_tokens", "tok_old"),
        ):
            got = conn.execute(text(f"SELECT territory_id FROM {table} WHERE id = :k"), {"k": key})
            assert got.scalar_one() == "ter_62", table
        # Nothing else changed: the household, its hold, the room, the lease's holder.
        req = conn.execute(text("SELECT reference, status FROM placement_requests")).one()
        assert tuple(req) == ("115-OLD", "proposed")
        held = conn.execute(text("SELECT room_id, beds, active FROM placement_rooms")).one()
        assert tuple(held) == ("room_old", 2, True)
        lock = conn.execute(text("SELECT id, territory_id, holder FROM allocation_lock")).one()
        assert tuple(lock) == (1, "ter_62", "gone:1")
        audit = conn.execute(text("SELECT territory_id, chain_hash FROM audit_events")).one()
        assert audit[0] == "ter_62"
    engine.dispose()
    # The old event's hash did not cover a territory: it still verifies, in its own form.
    from sqlalchemy.orm import Session

    from app.audit.chain import verify_database

    engine = create_engine(
        empty_database.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool
    )
    with Session(engine) as session:
        verdict = verify_database(session)
    engine.dispose()
    assert verdict.broken_id is None and verdict.events == 1 and verdict.legacy == 1


def test_the_default_territory_is_59_nord(empty_database: str) -> None:
    os.environ.pop("TERRITORY_CODE", None)
    command.upgrade(alembic_config(empty_database), "head")
    engine = create_engine(
        empty_database.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool
    )
    with engine.connect() as conn:
        row = conn.execute(text("SELECT code, name FROM territories")).one()
    engine.dispose()
    assert tuple(row) == ("59", "Nord")
