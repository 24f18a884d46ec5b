"""Test database and clients.

SQLite by default; set ``ABRI_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1/test`` to run
the same suite on PostgreSQL: a fresh database is created on that server for the session
(owned by the schema owner role and migrated with Alembic, as in production; the service
and the tests' clients connect as the service role) and dropped at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

# The in-process app runs queued runs in a worker thread of its own (LOCAL_WORKER=thread):
# the tests' monkeypatched engines and hooks apply to it. Tests that start real worker
# processes say so in their subprocess's environment.
os.environ["LOCAL_WORKER"] = "thread"

_BASE_URL = os.environ.get("ABRI_TEST_DATABASE_URL", "").strip()
IS_POSTGRES = _BASE_URL.startswith(("postgresql", "postgres"))
# The production roles (deploy/postgres-roles.sql, also run by .ci/run): migrations run as
# the owner, the service and the tests' clients as the service role, as in production.
ROLES_SQL = Path(__file__).resolve().parents[1] / "deploy" / "postgres-roles.sql"
OWNER_ROLE, SERVICE_ROLE = "abri_owner", "abri_service"
# The territory every test starts with (the settings' defaults, TERRITORY_CODE=59).
DEFAULT_TERRITORY_ID = "ter_59"


def _now() -> object:
    from app.core.db import utcnow

    return utcnow()


@dataclass(frozen=True)
class DatabaseUrls:
    url: str  # the service's role (DATABASE_URL)
    owner_url: str | None = None  # the schema owner (MIGRATION_DATABASE_URL), PostgreSQL
    superuser_url: str | None = None  # the test harness only: empties the audit log


def _create_postgres_database(base_url: str) -> tuple[DatabaseUrls, Callable[[], None]]:
    url = make_url(
        base_url.replace("postgresql://", "postgresql+psycopg://", 1)
        if base_url.startswith("postgresql://")
        else base_url
    )
    name = f"abri_test_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(ROLES_SQL.read_text())  # idempotent, safe in parallel sessions
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER {OWNER_ROLE}'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    test_db = url.set(database=name)

    def as_role(role: str) -> str:
        return test_db.set(username=role, password=None).render_as_string(hide_password=False)

    database = DatabaseUrls(
        url=as_role(SERVICE_ROLE),
        owner_url=as_role(OWNER_ROLE),
        superuser_url=test_db.render_as_string(hide_password=False),
    )
    return database, drop


@pytest.fixture(scope="session")
def test_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseUrls]:
    if IS_POSTGRES:
        database, drop = _create_postgres_database(_BASE_URL)
        yield database
        drop()
    else:
        path: Path = tmp_path_factory.mktemp("db") / "abri-test.db"
        yield DatabaseUrls(url=f"sqlite:///{path}")


@pytest.fixture(scope="session")
def database_url(test_database: DatabaseUrls) -> str:
    return test_database.url


@pytest.fixture(scope="session")
def migrated_database(test_database: DatabaseUrls) -> Iterator[str]:
    """The test database, migrated as ``python -m app migrate`` does (as the schema owner,
    then the service role's privileges); the app's settings point at it."""
    os.environ["DATABASE_URL"] = test_database.url
    if test_database.owner_url:
        os.environ["MIGRATION_DATABASE_URL"] = test_database.owner_url
    else:
        os.environ.pop("MIGRATION_DATABASE_URL", None)
    from app.core.config import get_settings
    from app.core.db import get_engine, get_sessionmaker
    from app.core.migrate import migrate

    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    assert migrate() == []  # on PostgreSQL: the service role cannot change the audit log
    yield test_database.url
    get_engine().dispose()


@pytest.fixture(scope="session")
def _wipe_engine(migrated_database: str, test_database: DatabaseUrls) -> Iterator[Engine]:
    from app.core.db import get_engine

    if test_database.superuser_url is None:
        yield get_engine()
        return
    engine = create_engine(test_database.superuser_url, poolclass=NullPool)
    yield engine
    engine.dispose()


def _wipe(engine: Engine) -> None:
    from app.models import Base

    names = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # The audit log refuses TRUNCATE (a trigger); replica mode skips triggers and is
            # for superusers only: the harness, never the service or its owner.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " CASCADE"))
        else:
            for name in names:
                conn.execute(text(f'DELETE FROM "{name}"'))
        # A fresh database's territory (migration 0006 makes it): the suite's single SIAO.
        conn.execute(
            text(
                "INSERT INTO territories (id, code, name, version, created_at, updated_at)"
                " VALUES (:id, :code, :name, 1, :now, :now)"
            ),
            {"id": DEFAULT_TERRITORY_ID, "code": "59", "name": "Nord", "now": _now()},
        )


@pytest.fixture
def db(_wipe_engine: Engine) -> Iterator[None]:
    """An empty database for one test."""
    _wipe(_wipe_engine)
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
