"""Retry-safe writes: the ``Idempotency-Key`` header.

The same key with the same body (and the same method and path) returns the first response
again and creates nothing; the same key with another body is 422. Keys are scoped to the
caller's token and stored in the database, so they hold across workers and replicas.

How a concurrent duplicate is kept from creating a second object: the key and its response
are stored (primary key ``(token_id, key)``) in the same transaction as the work, with
``INSERT ... ON CONFLICT DO NOTHING``. Of two transactions with the same key, the second's
insert waits on PostgreSQL until the first commits and then inserts nothing; the second then
rolls back its own work and answers with the stored response (on SQLite, writers are
serialised by ``BEGIN IMMEDIATE``, so the second finds the row before doing anything). Only
successful responses are stored: a failed write stores nothing, so a retry runs again. Each
write costs one statement more than without a key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.auth.dependencies import Principal
from app.core.db import utcnow
from app.core.errors import AnswerInstead, ProblemError
from app.core.http import version_etag
from app.core.idempotency_models import IdempotencyRecord

MAX_KEY_LENGTH = 200

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=(
            "Any unique string (a UUID): a retry with the same key and body returns the first "
            "response and creates nothing; the same key with another body is 422."
        ),
    ),
]


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """SHA-256 of the canonical JSON of what the client asked (sorted keys, no spaces)."""
    canonical = json.dumps(
        {"method": method.upper(), "path": path, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_key(key: str) -> None:
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise ProblemError(
            422,
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
            errors=[{"loc": ["header", "Idempotency-Key"], "msg": "invalid idempotency key"}],
        )


def _replay(record: IdempotencyRecord, fingerprint: str) -> JSONResponse:
    if record.request_hash != fingerprint:
        raise ProblemError(
            422,
            "This Idempotency-Key was already used with another request body; "
            "use a new key for a new request.",
            errors=[{"loc": ["header", "Idempotency-Key"], "msg": "key reused with another body"}],
        )
    return _response(record.response_status, record.response_body, replayed=True)


def _response(status: int, body: Any, *, replayed: bool = False) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(body, dict) and "id" in body and "version" in body:
        headers["ETag"] = version_etag(body["id"], body["version"])
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status_code=status, headers=headers)


def _find(session: Session, token_id: str, key: str) -> IdempotencyRecord | None:
    return session.scalar(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.token_id == token_id, IdempotencyRecord.key == key)
        .execution_options(populate_existing=True)
    )


def _claim(session: Session, record: IdempotencyRecord) -> bool:
    """Store the key with its response; False if another transaction stored it first.

    ``ON CONFLICT DO NOTHING``: on PostgreSQL a concurrent insert of the same key waits for
    the other transaction, then does nothing if it committed. One statement, no savepoint.
    """
    table = IdempotencyRecord.__table__
    values = {c.name: getattr(record, c.name) for c in table.columns}
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["token_id", "key"])
        .returning(table.c.key)
    )
    return session.execute(stmt).first() is not None


def run_idempotent(
    session: Session,
    principal: Principal,
    request: Request,
    key: str | None,
    body: Any,
    work: Callable[[], tuple[int, Any]],
) -> JSONResponse:
    """Run ``work`` (which returns ``(status, json_body)``) at most once per key.

    Without a key, ``work`` simply runs. ``body`` is the request body as JSON-able data.
    """
    if key is None:
        status, payload = work()
        return _response(status, payload)
    _check_key(key)
    fingerprint = request_fingerprint(request.method, request.url.path, body)
    # A retry of a committed write is answered before any work: the work itself might now
    # refuse (a second cancel is a 409) where the client must see the first answer again.
    existing = _find(session, principal.token_id, key)
    if existing is not None:
        return _replay(existing, fingerprint)
    status, payload = work()
    stored = IdempotencyRecord(
        token_id=principal.token_id,
        key=key,
        method=request.method.upper(),
        path=request.url.path[:500],
        request_hash=fingerprint,
        response_status=status,
        response_body=payload,
        created_at=utcnow(),
    )
    if _claim(session, stored):
        return _response(status, payload)
    # A concurrent duplicate committed first: undo this transaction's work (the whole
    # transaction rolls back) and answer with the first response.
    winner = _find(session, principal.token_id, key)
    if winner is None:
        raise ProblemError(409, "A request with this Idempotency-Key is in progress; retry.")
    raise AnswerInstead(_replay(winner, fingerprint))
