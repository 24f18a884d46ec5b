"""PostgreSQL roles: the service's role may only append to and read the audit log; the
schema owner's own triggers refuse UPDATE, DELETE and TRUNCATE."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import DBAPIError

from app.audit.models import AuditEvent
from app.audit.service import record
from app.core.config import Settings
from app.core.db import get_engine, get_sessionmaker
from app.core.migrate import SAME_ROLE, migrate
from app.core.roles import service_role_warnings
from tests.conftest import OWNER_ROLE, SERVICE_ROLE, DatabaseUrls

pytestmark = pytest.mark.postgres

REFUSED_TO_THE_SERVICE = {
    "update": "UPDATE audit_events SET action = 'forged'",
    "delete": "DELETE FROM audit_events",
    "truncate": "TRUNCATE audit_events",
    "alter table": "ALTER TABLE audit_events ADD COLUMN note text",
    "disable trigger": "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
    "drop trigger": "DROP TRIGGER audit_events_append_only ON audit_events",
    "new trigger": "CREATE TRIGGER t BEFORE INSERT ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
}


@pytest.fixture
def one_event(db: None) -> Iterator[None]:
    with get_sessionmaker()() as s:
        record(s, None, "test.event", "thing", "thing_1")
        s.commit()
    yield
    with get_sessionmaker()() as s:  # still there, unchanged
        assert s.scalars(select(AuditEvent.action)).all() == ["test.event"]


@pytest.fixture
def owner(test_database: DatabaseUrls) -> Iterator[Engine]:
    assert test_database.owner_url
    engine = create_engine(test_database.owner_url)
    yield engine
    engine.dispose()


def test_the_service_connects_as_its_own_role(db: None) -> None:
    with get_engine().connect() as conn:
        who = conn.execute(
            text(
                "SELECT current_user, pg_get_userbyid(relowner) FROM pg_class"
                " WHERE oid = 'audit_events'::regclass"
            )
        ).one()
    assert tuple(who) == (SERVICE_ROLE, OWNER_ROLE)


@pytest.mark.parametrize("statement", REFUSED_TO_THE_SERVICE.values(), ids=REFUSED_TO_THE_SERVICE)
def test_the_service_role_may_not_change_the_audit_log(one_event: None, statement: str) -> None:
    with get_engine().connect() as conn, pytest.raises(DBAPIError) as refused:
        conn.execute(text(statement))
    # A privilege refusal, not the trigger's: without the roles the trigger alone stood.
    assert refused.value.orig.sqlstate == "42501"  # type: ignore[union-attr]
    assert "append-only" not in str(refused.value)


OWNER_REFUSED = [
    "UPDATE audit_events SET action = 'x'",
    "DELETE FROM audit_events",
    "TRUNCATE audit_events",
]


@pytest.mark.parametrize("statement", OWNER_REFUSED)
def test_even_the_owner_meets_the_triggers(one_event: None, owner: Engine, statement: str) -> None:
    with owner.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text(statement))


def test_the_service_role_may_append_and_read(db: None) -> None:
    for n in (1, 2):
        with get_sessionmaker()() as s:
            record(s, None, "test.more", "thing", f"thing_{n}")
            s.commit()
    with get_sessionmaker()() as s:
        assert s.scalars(select(AuditEvent.object_id)).all() == ["thing_1", "thing_2"]


def test_migrate_names_what_leaves_the_log_unprotected(owner: Engine) -> None:
    with owner.connect() as conn:
        assert service_role_warnings(conn, SERVICE_ROLE) == []
        assert "is a superuser" in " ".join(service_role_warnings(conn, "postgres"))
        assert "owner's rights" in " ".join(service_role_warnings(conn, OWNER_ROLE))


def test_migrate_warns_only_when_the_service_is_the_owner(test_database: DatabaseUrls) -> None:
    as_owner = Settings(database_url=test_database.owner_url, migration_database_url=None)
    assert migrate(as_owner) == [SAME_ROLE]
    # The owner migrated elsewhere (a release job): the service role's migrate is a no-op.
    as_service = Settings(database_url=test_database.url, migration_database_url=None)
    assert migrate(as_service) == []
