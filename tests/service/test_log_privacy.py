"""Nothing sensitive in the server's log: a real server process (``python -m app serve``, the
app's own logging configuration, access log on, DEBUG) goes through a scenario carrying
marker strings — a token, a case reference, a confidential address — in bodies, query
strings, a dashboard URL, refused input and forced database errors (500s whose database
message quotes the failing row). None of the markers may appear in what it wrote.

Cost: one server start and ~15 requests, about 5 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import DatabaseUrls
from tests.dashboard.test_browser import free_port, wait_until_up
from tests.service.conftest import REQUEST, SHELTER

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = "MRKREF-7c41d9"
ADDRESS = "MRKADDR 9 impasse des Glycines"


@pytest.fixture
def server_log(migrated_database: str, db: None, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, file holding everything the server wrote on stdout and stderr)."""
    port = free_port()
    log_path = tmp_path / "server.log"
    env = {
        **os.environ,
        "DATABASE_URL": migrated_database,
        "LOG_LEVEL": "DEBUG",
        "ACCESS_LOG": "true",
        "ALLOCATION_INTERVAL_S": "0",
    }
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(proc, url)
            yield url, log_path
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _sabotage(on: bool, database: DatabaseUrls) -> None:
    """Unique indexes the service does not expect: a duplicate write becomes an unhandled
    IntegrityError, whose database message names the duplicate value (PostgreSQL's DETAIL).
    Made as the schema owner: the service's role may not change the schema."""
    engine = create_engine(database.owner_url or database.url)
    with engine.begin() as conn:
        for table, column in (("placement_requests", "reference"), ("shelters", "address")):
            name = f"ix_test_sabotage_{table}"
            if on:
                conn.execute(text(f"CREATE UNIQUE INDEX {name} ON {table} ({column})"))
            else:
                conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    engine.dispose()


def test_no_token_reference_or_address_in_the_server_log(
    server_log: tuple[str, Path], make_token: Callable[..., str], test_database: DatabaseUrls
) -> None:
    url, log_path = server_log
    admin_token, viewer_token = make_token("admin"), make_token("viewer")
    markers = [admin_token, viewer_token, REFERENCE, ADDRESS]
    admin = {"Authorization": f"Bearer {admin_token}"}
    shelter = {**SHELTER, "address": ADDRESS, "confidential": True}
    request = {**REQUEST, "reference": REFERENCE}

    def call(method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, f"{url}{path}", headers=admin, timeout=30, **kw)

    assert call("POST", "/api/v1/shelters", json=shelter).status_code == 201
    assert call("POST", "/api/v1/requests", json=request).status_code == 201
    assert call("GET", f"/api/v1/requests?reference={REFERENCE}").status_code == 200
    assert call("GET", f"/dashboard?token={viewer_token}").status_code == 200
    assert call("GET", f"/api/v1/requests?reference={REFERENCE}%00").status_code == 422
    assert call("POST", "/api/v1/requests", json={**request, "priority": 9}).status_code == 422
    bad_token = {"Authorization": f"Bearer {admin_token}x"}
    r = httpx.get(f"{url}/api/v1/requests?reference={REFERENCE}", headers=bad_token)
    assert r.status_code == 401
    _sabotage(True, test_database)
    try:
        assert call("POST", "/api/v1/requests", json=request).status_code == 500
        assert call("POST", "/api/v1/shelters", json=shelter).status_code == 500
    finally:
        _sabotage(False, test_database)
    time.sleep(0.5)  # the server's last lines reach the file

    log = log_path.read_text(errors="replace")
    # The scenario was logged: access lines, and the 500s with their frames and SQL text.
    assert 'GET /api/v1/requests HTTP/1.1" 200' in log
    assert 'GET /dashboard HTTP/1.1" 200' in log
    assert log.count("unhandled_error") >= 2
    assert "IntegrityError" in log and "INSERT INTO placement_requests" in log
    for marker in markers:
        assert marker not in log, f"{marker!r} is in the server's log"


def test_database_errors_do_not_quote_statement_parameters(db: None) -> None:
    # What reaches a log when anything (ours, SQLAlchemy's, a library's) prints the error.
    from sqlalchemy.exc import DBAPIError

    from app.core.db import get_engine

    with get_engine().connect() as conn, pytest.raises(DBAPIError) as caught:
        conn.execute(text("SELECT no_such_column FROM shelters WHERE address = :a"),
                     {"a": ADDRESS})  # fmt: skip
    assert ADDRESS not in str(caught.value)
    assert "parameters hidden" in str(caught.value)
