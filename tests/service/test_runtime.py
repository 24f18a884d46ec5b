"""Start-up preparation of a worker: warmed up before the first request, heap frozen."""

from __future__ import annotations

import gc

from sqlalchemy import create_engine

from app.core import runtime


def test_started_worker_has_a_frozen_heap_and_answers(client) -> None:
    # The app, its modules and the database driver are out of the collector's walks.
    assert gc.get_freeze_count() > 10_000
    assert client.get("/healthz").status_code == 200


def test_warm_up_tolerates_an_unreachable_database(monkeypatch) -> None:
    # Port 1 on loopback refuses at once: the worker still starts; /readyz reports it.
    dead = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    monkeypatch.setattr(runtime, "get_engine", lambda: dead)
    assert runtime.warm_up() is False
    dead.dispose()


def test_warm_up_opens_a_connection(db) -> None:
    assert runtime.warm_up() is True
