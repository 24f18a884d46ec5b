"""Database engine, session and the declarative base shared by every domain."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import anyio
from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from app.core.config import get_settings

# Set before the first migration so that every constraint has a stable, predictable name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """Readable, unguessable ids such as ``shl_5f2c9a0e1b7d4c3a``."""
    return f"{prefix}_{secrets.token_hex(8)}"


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    # hide_parameters: a statement's values (addresses, references, household needs) stay
    # out of every error message, and so out of every log line and traceback.
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            future=True,
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, issue BEGIN (see _begin_immediate below).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # Take the write lock at the start: two deferred transactions that both
            # upgrade to writers would deadlock and one would fail with "database is locked".
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, future=True, hide_parameters=True
    )
    _ping_idle_connections(engine)
    return engine


# A pooled connection unused for longer than this is checked (one round trip) before it is
# handed out; one used more recently is not.
PING_IF_IDLE_S = 5.0


def _ping_idle_connections(engine: Engine) -> None:
    """``pool_pre_ping``, but only for connections that sat idle in the pool.

    ``pool_pre_ping=True`` cost a ``SELECT 1`` round trip on every request, ~1 of the 8 of
    a POST, to catch connections the server dropped (restart, failover, idle timeouts):
    those are connections that sat unused. One reused within seconds was alive moments
    ago; if the server went away since, the statement fails, SQLAlchemy invalidates the
    whole pool, and the client gets the 503 "nothing was changed, try again" that any
    request in flight at that moment gets anyway.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_IF_IDLE_S:
            return  # new (just connected) or recently used
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool discards this connection and hands out a fresh one (documented
            # "pessimistic" disconnect handling with a checkout event).
            raise DisconnectionError("pooled connection is dead") from exc


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    return make_engine(settings.database_url, pool_size=settings.db_pool_size)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False, autoflush=True)


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


async def _in_thread(fn: Callable[[Session], None], session: Session) -> None:
    # Its own limiter, as FastAPI does for the exit of a sync dependency: the end of a
    # transaction must not wait for a free thread while every thread waits for a pooled
    # connection that only this end would give back. Shielded: a client that hangs up
    # mid-request must not leave the transaction open.
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(fn, session, limiter=anyio.CapacityLimiter(1))


async def get_session() -> AsyncIterator[Session]:
    """The one place where a request's work is committed or rolled back.

    ``async`` on purpose: creating a Session does no I/O (a connection is taken at the first
    statement, in the thread that runs it), so only the end, commit or rollback and giving
    the connection back, runs in a thread. A plain generator dependency cost two thread
    hand-offs per request, one of them for nothing.
    """
    session = get_sessionmaker()()
    try:
        yield session
    except BaseException:
        await _in_thread(_rollback_and_close, session)
        raise
    await _in_thread(_commit_and_close, session)
