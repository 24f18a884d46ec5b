"""The command line and the demo region."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_token_create_prints_a_working_token(client: Any, migrated_database: str) -> None:
    r = _run(
        "token", "create", "--role", "operator", "--name", "desk", database_url=migrated_database
    )
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert token.startswith("abri_") and "\n" not in token
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["role"] == "operator"
    assert me.json()["name"] == "desk"
    # Audited, as a token made through the API is (no actor but the command line).
    from app.audit.models import AuditEvent
    from app.core.db import get_sessionmaker

    with get_sessionmaker()() as s:
        (created,) = s.scalars(select(AuditEvent).where(AuditEvent.action == "token.create"))
    assert created.object_id == me.json()["token_id"]
    assert created.detail == {"role": "operator", "shelter_id": None, "via": "command line"}


def test_bad_arguments_exit_2_with_one_line(db: None, migrated_database: str) -> None:
    for args in (
        ("token", "create", "--role", "root"),
        ("token", "create", "--role", "shelter", "--shelter", "shl_nope"),
        ("serve", "--port", "nope"),
        ("frobnicate",),
        (),
    ):
        r = _run(*args, database_url=migrated_database)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "Traceback" not in r.stderr and r.stdout == ""


def test_migrate_is_idempotent(migrated_database: str) -> None:
    r = _run("migrate", database_url=migrated_database)
    assert r.returncode == 0, r.stderr


def test_demo_loads_and_serves_the_api(client: Any, session: Any, auth: Any) -> None:
    from app.demo import load_demo
    from app.demo.loader import has_shelters
    from app.requests.models import PlacementRequest
    from app.shelters.models import Room, Shelter

    assert not has_shelters(session)
    counts = load_demo(session, "ter_59")
    session.commit()
    assert counts == {
        "shelters": session.scalar(select(func.count()).select_from(Shelter)),
        "rooms": session.scalar(select(func.count()).select_from(Room)),
        "requests": session.scalar(select(func.count()).select_from(PlacementRequest)),
    }
    assert 12 <= counts["shelters"] <= 20 and 20 <= counts["requests"] <= 30
    kinds = {s.kind for s in session.scalars(select(Shelter))}
    assert kinds == {"chu", "chrs", "dv_shelter", "mother_child", "hotel"}
    confidential = session.scalars(select(Shelter).where(Shelter.confidential.is_(True))).all()
    assert 2 <= len(confidential) <= 3
    keep_apart = [r for r in session.scalars(select(PlacementRequest)) if r.keep_apart]
    assert keep_apart, "the demo has a keep-apart pair"
    # End this session's transaction: on SQLite it holds the write lock (BEGIN IMMEDIATE).
    session.commit()

    viewer = auth("viewer")
    avail = client.get("/api/v1/availability", headers=viewer).json()
    assert avail["totals"]["shelters"] == counts["shelters"]
    assert avail["totals"]["free_beds"] > 0
    page = client.get("/api/v1/requests?status=pending&limit=500", headers=auth("operator"))
    assert page.json()["total"] == counts["requests"]
    # A secret address stays secret in the demo too.
    for s in client.get("/api/v1/shelters", headers=viewer).json():
        if s["confidential"]:
            assert s["address"] is None and s["location_precision"] == "approximate"


def test_readyz(client: Any) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert client.get("/healthz").json() == {"status": "ok"}


def test_serve_passes_log_level_and_access_log_to_uvicorn(monkeypatch: Any) -> None:
    import uvicorn

    from app.__main__ import main
    from app.core.config import get_settings

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    monkeypatch.setattr(get_settings(), "log_level", "WARNING")
    monkeypatch.setattr(get_settings(), "access_log", False)
    assert main(["serve", "--port", "8123"]) == 0
    # A WARNING server writes no line per request (uvicorn logged them at INFO regardless).
    assert seen["log_level"] == "warning" and seen["access_log"] is False
    monkeypatch.setattr(get_settings(), "log_level", "verbose")  # unknown: INFO, as structlog
    main(["serve"])
    assert seen["log_level"] == "info"


def test_demo_prints_a_way_into_every_screen(client: Any, monkeypatch: Any, capsys: Any) -> None:
    """Each screen's address is printed, and the national admin's dashboard link carries a
    token that works across territories (its dashboard has the territory picker)."""
    import app.__main__ as cli

    monkeypatch.setattr(cli, "_migrate", lambda: None)  # the fixture migrated it
    monkeypatch.setattr(cli, "_serve", lambda *args, **kwargs: None)
    cli._demo("127.0.0.1", 8000)
    out = capsys.readouterr().out
    lines = {line.split(":", 1)[0]: line for line in out.splitlines() if "http://" in line}
    assert "http://127.0.0.1:8000/console" in lines["Console"]
    assert "http://127.0.0.1:8000/shelter" in lines["Shelter"]
    national = lines["Dashboard (national admin)"].split("#token=", 1)[1]
    header = {"Authorization": f"Bearer {national}"}
    codes = [t["code"] for t in client.get("/api/v1/territories", headers=header).json()]
    assert codes == ["59", "62"]
    for code in codes:
        r = client.get(f"/api/v1/availability?territory={code}", headers=header)
        assert r.status_code == 200, r.text
    for path in ("/console", "/shelter", "/dashboard"):
        assert client.get(path).status_code == 200
