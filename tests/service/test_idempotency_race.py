"""Two transactions with the same Idempotency-Key at the same moment: one object, one answer.

Forced deterministically on PostgreSQL: the first transaction has done its work and stored
its key but not committed when the second arrives; the second must wait, then roll back its
own work and answer with the first response.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import func, select
from starlette.requests import Request

from app.auth.dependencies import Principal
from app.auth.models import Role
from app.core.db import get_sessionmaker
from app.core.errors import AnswerInstead
from app.core.idempotency import run_idempotent
from app.shelters.models import Shelter

pytestmark = pytest.mark.postgres


def _request() -> Request:
    return Request({"type": "http", "method": "POST", "path": "/api/v1/shelters", "headers": []})


def _work(session, name: str):
    def work():
        shelter = Shelter(
            territory_id="ter_59",
            name=name,
            kind="chu",
            lat=50.3,
            lon=3.5,
            women=True,
            men=True,
            children=True,
            commune="Valenciennes",
            languages=[],
        )
        session.add(shelter)
        session.flush()
        return 201, {"id": shelter.id, "version": 1, "name": name}

    return work


def test_the_loser_rolls_back_and_replays_the_winner(db: None) -> None:
    principal = Principal(token_id="tok_race", name="race", role=Role.admin)
    body = {"name": "CHU Race"}
    first = get_sessionmaker()()
    winner = run_idempotent(first, principal, _request(), "k-race", body, _work(first, "CHU Race"))
    outcome: dict[str, object] = {}

    def second() -> None:
        with get_sessionmaker()() as s:
            try:
                run_idempotent(s, principal, _request(), "k-race", body, _work(s, "CHU Race"))
                outcome["result"] = "stored twice"
                s.commit()
            except AnswerInstead as answer:
                s.rollback()
                outcome["result"] = answer.response

    t = threading.Thread(target=second)
    t.start()
    time.sleep(0.5)  # the second transaction is now waiting on the first's uncommitted key
    assert t.is_alive()
    first.commit()
    first.close()
    t.join(10)

    replay = outcome["result"]
    assert not isinstance(replay, str), replay
    assert replay.status_code == 201
    assert json.loads(replay.body) == json.loads(winner.body)  # JSONB may reorder keys
    assert replay.headers["Idempotent-Replayed"] == "true"
    with get_sessionmaker()() as s:
        assert s.scalar(select(func.count()).select_from(Shelter)) == 1
