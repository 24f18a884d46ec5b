"""Tamper evidence: each audit event carries a SHA-256 chained to the event before it.

``hash = sha256(previous hash + canonical JSON of the event)``, in id order. Changing,
removing or inserting a row breaks every hash from that row on; ``verify`` names the first.

The canonical JSON covers the event's territory (``territory_id``, whose log it is in):
moving an event into or out of a territory's log breaks the chain as any other edit does.
Events chained before it did (``legacy_chain_hash``: migration 0004's, and every event up
to the release that added it; migration 0006 then labelled them with a territory) still
verify in their own form, which leaves their label unprotected and no one else's: an
event's stored hash commits to the form it was made in, so a current event edited never
passes as a legacy one.

Events are written when their transaction commits, not when they are recorded: the commit
hook takes the chain's lock (a transaction-level advisory lock on PostgreSQL; SQLite's
BEGIN IMMEDIATE already serialises writers), reads the head, and inserts the transaction's
events chained onto it. The lock is the last one a transaction takes (every other change
is flushed first, docs/architecture.md: lock order), so it cannot close a cycle with row
locks, and it is held only for the head read, the insert and the commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session, UOWTransaction

from app.audit.models import AuditEvent
from app.core.db import utcnow

GENESIS = "0" * 64
_PENDING = "audit_pending"
_HEAD = "audit_chain_head"


def _plain_numbers(value: Any) -> Any:
    # JSONB may give back 2.0 as 2.0 or 1e16 as 10000000000000000: whole floats hash as ints.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_numbers(v) for v in value]
    return value


def canonical(e: AuditEvent, *, with_territory: bool = True) -> str:
    """The event's fields as one JSON text (sorted keys, UTC microseconds): what is hashed.

    ``territory_id`` is always a key (null for a national act), so that no event hashes
    alike in both forms."""
    fields: dict[str, Any] = {
        "at": e.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_token_id": e.actor_token_id,
        "actor_name": e.actor_name,
        "actor_role": e.actor_role,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "detail": _plain_numbers(e.detail),
    }
    if with_territory:
        fields["territory_id"] = e.territory_id
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def chain_hash(previous: str, e: AuditEvent) -> str:
    """The hash every new event is chained with: its territory included."""
    return hashlib.sha256((previous + canonical(e)).encode()).hexdigest()


def legacy_chain_hash(previous: str, e: AuditEvent) -> str:
    """The form of events chained before the hash covered their territory (migration 0004
    chains a database's first events with it: they had no territory then)."""
    return hashlib.sha256((previous + canonical(e, with_territory=False)).encode()).hexdigest()


def _read_head(session: Session) -> str:
    """The newest event's hash, the chain locked until the commit (one statement)."""
    if session.get_bind().dialect.name == "postgresql":
        # Takes the advisory lock, then reads (migration 0004).
        head = session.scalar(text("SELECT audit_events_chain_head()"))
    else:  # BEGIN IMMEDIATE: this transaction already holds SQLite's only write lock
        head = session.scalar(select(AuditEvent.chain_hash).order_by(AuditEvent.id.desc()).limit(1))
    return head or GENESIS


def _chain(session: Session, events: list[AuditEvent]) -> None:
    head = session.info.get(_HEAD) or _read_head(session)
    for e in events:
        head = e.chain_hash = chain_hash(head, e)
        session.add(e)
    session.info[_HEAD] = head


@event.listens_for(Session, "before_flush")
def _hold_back_events(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    """New events wait for the commit, unless the chain is already locked (then chained)."""
    new = [o for o in session.new if isinstance(o, AuditEvent) and o.chain_hash is None]
    if not new:
        return
    for e in new:
        e.at = e.at or utcnow()
        session.expunge(e)
    if session.info.get(_HEAD):
        _chain(session, new)
    else:
        session.info.setdefault(_PENDING, []).extend(new)


@event.listens_for(Session, "before_commit")
def _write_events(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT: the events wait for the real commit
    session.flush()  # every other change first: its row locks come before the chain's
    pending = session.info.pop(_PENDING, [])
    if pending:
        _chain(session, pending)
        session.flush()


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_HEAD, None)


@dataclass(frozen=True)
class Verdict:
    events: int
    head: str
    broken_id: int | None = None
    # Events in the legacy form, whose territory label the chain does not cover.
    legacy: int = 0


def verify(rows: Iterator[AuditEvent]) -> Verdict:
    """Walk the chain in id order; the first event whose hash does not follow is broken.

    Each event is judged in the current form, else in the legacy one (its territory not
    covered); workers of two releases may interleave the forms during an upgrade."""
    head, count, legacy = GENESIS, 0, 0
    for e in rows:
        if e.chain_hash != chain_hash(head, e):
            if e.chain_hash != legacy_chain_hash(head, e):
                return Verdict(count, head, broken_id=e.id, legacy=legacy)
            legacy += 1
        head, count = e.chain_hash, count + 1
    return Verdict(count, head, legacy=legacy)


def verify_database(session: Session) -> Verdict:
    rows = session.scalars(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)
    )
    return verify(iter(rows))
