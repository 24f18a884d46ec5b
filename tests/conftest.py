"""Test database and clients.

SQLite by default; set ``ABRI_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1/test`` to run
the same suite on PostgreSQL: a fresh database is created on that server for the session
(migrated with Alembic, as in production) and dropped at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

_BASE_URL = os.environ.get("ABRI_TEST_DATABASE_URL", "").strip()
IS_POSTGRES = _BASE_URL.startswith(("postgresql", "postgres"))


def _create_postgres_database(base_url: str) -> tuple[str, Callable[[], None]]:
    url = make_url(
        base_url.replace("postgresql://", "postgresql+psycopg://", 1)
        if base_url.startswith("postgresql://")
        else base_url
    )
    name = f"abri_test_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if IS_POSTGRES:
        url, drop = _create_postgres_database(_BASE_URL)
        yield url
        drop()
    else:
        path: Path = tmp_path_factory.mktemp("db") / "abri-test.db"
        yield f"sqlite:///{path}"


@pytest.fixture(scope="session")
def migrated_database(database_url: str) -> Iterator[str]:
    """The test database, upgraded to the newest migration; the app's settings point at it."""
    os.environ["DATABASE_URL"] = database_url
    from app.core.config import get_settings
    from app.core.db import get_engine, get_sessionmaker
    from app.core.migrate import upgrade_to_head

    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    upgrade_to_head()
    yield database_url
    get_engine().dispose()


def _wipe(engine: object) -> None:
    from app.models import Base

    names = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:  # type: ignore[attr-defined]
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " CASCADE"))
        else:
            for name in names:
                conn.execute(text(f'DELETE FROM "{name}"'))


@pytest.fixture
def db(migrated_database: str) -> Iterator[None]:
    """An empty database for one test."""
    from app.core.db import get_engine

    _wipe(get_engine())
    yield


@pytest.fixture
def session(db: None) -> Iterator[object]:
    from app.core.db import get_sessionmaker

    s = get_sessionmaker()()
    try:
        yield s
        s.commit()
    finally:
        s.close()


@pytest.fixture
def client(db: None) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def make_token(db: None) -> Callable[..., str]:
    """``make_token("operator")`` or ``make_token("shelter", shelter_id=...)``: a bearer token."""
    from app.auth.models import Role
    from app.auth.service import create_token
    from app.core.db import get_sessionmaker

    def _make(role: str, shelter_id: str | None = None, name: str | None = None) -> str:
        with get_sessionmaker()() as s:
            _, plaintext = create_token(s, Role(role), name or f"test {role}", shelter_id)
            s.commit()
        return plaintext

    return _make


@pytest.fixture
def auth(make_token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    """``auth("admin")`` → ``{"Authorization": "Bearer …"}``."""

    def _headers(role: str, shelter_id: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(role, shelter_id=shelter_id)}"}

    return _headers


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IS_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set ABRI_TEST_DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
