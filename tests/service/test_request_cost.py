"""What one write costs the database: statements per POST, pings, pool at start-up.

Under load every round trip is a wake-up of a PostgreSQL backend and of the worker, each
waiting for a CPU (docs/benchmarks.md, Service): these tests keep the count from creeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text

from app.core import db as core_db
from app.core.db import get_engine
from tests.conftest import IS_POSTGRES
from tests.service.conftest import REQUEST


@pytest.fixture(autouse=True)
def no_local_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test app's worker thread looks at the queue twice a second: not this POST's."""
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "local_worker", "off")


@pytest.fixture
def statements(client: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def _count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE; psycopg's is not here
            seen.append(statement.split(None, 1)[0].upper())

    event.listen(get_engine(), "before_cursor_execute", _count)
    yield seen
    event.remove(get_engine(), "before_cursor_execute", _count)


def test_post_request_is_six_statements(client: Any, operator: Any, statements: list) -> None:
    headers = {**operator, "Idempotency-Key": "cost-1"}
    statements.clear()
    r = client.post("/api/v1/requests", json=REQUEST, headers=headers)
    assert r.status_code == 201
    # The token, the stored key (a retry?), the request, the key claimed, at commit the
    # audit chain's head (locked on PostgreSQL) and the audit row.
    assert statements == ["SELECT", "SELECT", "INSERT", "INSERT", "SELECT", "INSERT"]
    statements.clear()
    replay = client.post("/api/v1/requests", json=REQUEST, headers=headers)
    assert replay.json() == r.json() and statements == ["SELECT", "SELECT"]


@pytest.mark.postgres
def test_a_recently_used_connection_is_not_pinged(client: Any, operator: Any, monkeypatch) -> None:
    pings: list[object] = []
    dialect = get_engine().dialect
    real_ping = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda c: pings.append(c) or real_ping(c))
    for _ in range(3):
        assert client.get("/api/v1/me", headers=operator).status_code == 200
    assert pings == []
    monkeypatch.setattr(core_db, "PING_IF_IDLE_S", 0.0)  # every connection counts as idle
    assert client.get("/api/v1/me", headers=operator).status_code == 200
    assert len(pings) >= 1


@pytest.mark.postgres
def test_a_dead_idle_connection_is_replaced_not_an_error(
    client: Any, operator: Any, monkeypatch
) -> None:
    assert client.get("/api/v1/me", headers=operator).status_code == 200
    # The server drops every idle connection of this pool (a restart, a failover).
    with get_engine().connect() as own:
        mine = own.execute(text("SELECT pg_backend_pid()")).scalar()
        own.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> :mine AND state = 'idle'"
            ),
            {"mine": mine},
        )
        own.commit()
    monkeypatch.setattr(core_db, "PING_IF_IDLE_S", 0.0)
    try:
        for _ in range(3):
            assert client.get("/api/v1/me", headers=operator).status_code == 200
    finally:
        get_engine().dispose()  # the other dead ones must not reach the next test


def test_start_up_fills_the_pool(client: Any) -> None:
    pool = get_engine().pool
    if IS_POSTGRES:
        assert pool.checkedin() >= pool.size()  # type: ignore[attr-defined]
    assert client.get("/healthz").status_code == 200
