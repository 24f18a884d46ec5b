"""The models and the migrations describe the same schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from app.core.config import get_settings
from app.models import Base


def test_migrations_match_models(migrated_database: str) -> None:
    engine = create_engine(get_settings().database_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_readyz_reports_schema_at_head(client) -> None:
    body = client.get("/readyz").json()
    assert body["status"] == "ok"


def test_unknown_path_is_problem_json(client) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 404
