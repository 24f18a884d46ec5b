"""The audit log is evidence: a hash chain that ``python -m app audit verify`` checks."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text

from app.audit.chain import GENESIS, chain_hash, verify_database
from app.audit.models import AuditEvent
from app.audit.service import record
from app.core.db import get_sessionmaker
from tests.conftest import IS_POSTGRES, DatabaseUrls

ROOT = Path(__file__).resolve().parents[2]


def _verify() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "audit", "verify"],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _record_events(n: int, detail: dict | None = None) -> list[int]:
    with get_sessionmaker()() as s:
        for i in range(n):
            record(s, None, "test.event", "thing", f"thing_{i}", {"i": i, **(detail or {})})
        s.commit()
        return list(s.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


@pytest.fixture
def owner(db: None, test_database: DatabaseUrls) -> Iterator[Engine]:
    """The schema owner's connection (the service's own on SQLite): what a tamperer with
    the owner's password could do."""
    engine = create_engine(test_database.owner_url or test_database.url)
    yield engine
    engine.dispose()


def _tamper(owner: Engine, statement: str, **params: object) -> None:
    with owner.begin() as conn:
        if IS_POSTGRES:  # the owner may lift its own triggers; the service may not
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        conn.execute(text(statement), params)
        if IS_POSTGRES:
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))


def test_each_event_is_chained_to_the_one_before(db: None) -> None:
    ids = _record_events(3)
    with get_sessionmaker()() as s:
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert [e.id for e in events] == ids
    assert events[0].chain_hash == chain_hash(GENESIS, events[0])
    assert events[2].chain_hash == chain_hash(events[1].chain_hash, events[2])
    assert len({e.chain_hash for e in events}) == 3


def test_a_rolled_back_transaction_writes_no_event(db: None) -> None:
    with get_sessionmaker()() as s:
        record(s, None, "test.event", "thing", "gone")
        s.flush()
        s.rollback()
        s.commit()
        assert s.scalar(select(AuditEvent.id)) is None


def test_verify_accepts_an_intact_log(db: None) -> None:
    _record_events(4)
    r = _verify()
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("audit chain ok: 4 event(s), head ")


def test_verify_names_a_changed_event(owner: Engine) -> None:
    ids = _record_events(5)
    _tamper(
        owner,
        "UPDATE audit_events SET actor_name = 'someone else' WHERE id = :id",
        id=ids[2],
    )
    r = _verify()
    assert r.returncode == 1
    assert f"audit chain broken at event {ids[2]}:" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_verify_names_the_event_after_a_removed_one(owner: Engine) -> None:
    ids = _record_events(4)
    _tamper(owner, "DELETE FROM audit_events WHERE id = :id", id=ids[1])
    r = _verify()
    assert r.returncode == 1
    assert f"at event {ids[2]}:" in r.stderr


def test_verify_spots_a_rehashed_event_by_the_next_one(owner: Engine) -> None:
    """A tamperer who recomputes the changed row's own hash still breaks the next link."""
    ids = _record_events(3)
    with get_sessionmaker()() as s:
        first, second = (s.get(AuditEvent, i) for i in ids[:2])
        assert first is not None and second is not None
        second.action = "forged"  # never flushed: only to hash the forged row
        rehashed = chain_hash(first.chain_hash or "", second)
        s.rollback()
    _tamper(
        owner,
        "UPDATE audit_events SET action = 'forged', chain_hash = :h WHERE id = :id",
        h=rehashed,
        id=ids[1],
    )
    r = _verify()
    assert r.returncode == 1 and f"at event {ids[2]}:" in r.stderr


def test_audit_usage_errors_exit_2(migrated_database: str) -> None:
    for args in (["audit"], ["audit", "check"], ["audit", "verify", "--all"]):
        r = subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1


def _writer(n: int, errors: list[BaseException], barrier: threading.Barrier) -> None:
    try:
        barrier.wait()
        for i in range(n):
            with get_sessionmaker()() as s:
                record(s, None, "test.concurrent", "thing", f"t{i}", {"i": i})
                record(s, None, "test.concurrent", "thing", f"t{i}", {"i": i, "second": True})
                s.commit()
    except BaseException as exc:  # reported by the test
        errors.append(exc)


@pytest.mark.postgres
def test_concurrent_writers_leave_one_valid_chain(db: None) -> None:
    """8 threads commit 25 transactions of 2 events each at once: one chain, no fork.

    Without the chain lock two commits read the same head and both chain onto it (the
    second one's link is then broken). ~2 s on PostgreSQL.
    """
    threads_n, per_thread = 8, 25
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_n)
    threads = [
        threading.Thread(target=_writer, args=(per_thread, errors, barrier))
        for _ in range(threads_n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    with get_sessionmaker()() as s:
        verdict = verify_database(s)
    assert verdict.broken_id is None
    assert verdict.events == threads_n * per_thread * 2


def _record_in(territories: list[str | None]) -> list[int]:
    with get_sessionmaker()() as s:
        for i, territory in enumerate(territories):
            record(s, None, "test.event", "thing", f"thing_{i}", {"i": i}, territory_id=territory)
        s.commit()
        return list(s.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


@pytest.mark.parametrize(
    ("index", "moved_to"),
    [(1, "ter_62"), (1, None), (2, "ter_59")],
    ids=["to-another-territory", "out-of-its-territory", "national-into-a-territory"],
)
def test_verify_names_an_event_moved_between_territory_logs(
    owner: Engine, index: int, moved_to: str | None
) -> None:
    """Whose log an event is in is part of what the chain covers: an event relabelled into
    another territory's log (or out of one) is named, as any other edit is."""
    ids = _record_in(["ter_59", "ter_59", None, "ter_59"])
    _tamper(
        owner, "UPDATE audit_events SET territory_id = :t WHERE id = :id", t=moved_to, id=ids[index]
    )
    r = _verify()
    assert r.returncode == 1, r.stdout
    assert f"audit chain broken at event {ids[index]}:" in r.stderr


def test_a_chain_begun_before_territories_still_verifies(owner: Engine) -> None:
    """Events hashed in the legacy form (no territory), then labelled by migration 0006, and
    new events chained onto them: the log verifies; the count of legacy events is said."""
    from app.audit.chain import legacy_chain_hash
    from app.core.db import utcnow

    head = GENESIS
    with owner.begin() as conn:
        for i in range(2):
            at = utcnow()
            event = AuditEvent(
                at=at, actor_name="abri", actor_role="system", action="old.event",
                object_type="thing", object_id=f"old_{i}", detail=None,
            )  # fmt: skip
            head = legacy_chain_hash(head, event)
            conn.execute(
                text(
                    "INSERT INTO audit_events (at, territory_id, actor_name, actor_role, action,"
                    " object_type, object_id, chain_hash) VALUES (:at, 'ter_59', 'abri',"
                    " 'system', 'old.event', 'thing', :oid, :h)"
                ),
                {"at": at, "oid": f"old_{i}", "h": head},
            )
    ids = _record_in(["ter_59", None])
    assert len(ids) == 4
    r = _verify()
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("audit chain ok: 4 event(s), head ")
    assert "(2 chained before the hash covered an event's territory)" in r.stdout
    # A current event is never accepted in the legacy form: relabelled, it breaks.
    _tamper(owner, "UPDATE audit_events SET territory_id = 'ter_62' WHERE id = :id", id=ids[2])
    r = _verify()
    assert r.returncode == 1 and f"at event {ids[2]}:" in r.stderr
