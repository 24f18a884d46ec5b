"""Failures reach the client as problem+json, never as a traceback."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from app.main import create_app


def _app_with(route_error: Exception) -> TestClient:
    app = create_app()

    @app.get("/boom")
    def boom() -> None:
        raise route_error

    return TestClient(app, raise_server_exceptions=False)


def test_database_deadlock_is_503_with_retry_after(db: None) -> None:
    err = OperationalError("UPDATE rooms ...", {}, Exception("deadlock detected"))
    r = _app_with(err).get("/boom")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["retry-after"] == "1"
    assert "nothing was changed" in r.json()["detail"]
    assert "deadlock" not in r.text  # the database's own words stay in the log


def test_unexpected_error_is_500_problem_without_traceback(db: None) -> None:
    r = _app_with(RuntimeError("secret internals at line 42")).get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "secret internals" not in r.text and "Traceback" not in r.text
