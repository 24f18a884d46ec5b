"""Runs of two territories at once (PostgreSQL: one server, real row locks): they overlap in
time and both finish, and two runs that both place into one neighbour's shelter never give
a bed twice."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from app.allocations import queue, runner
from app.allocations.models import AllocationRun
from app.allocations.worker import Worker
from app.core.config import get_settings
from app.core.db import get_sessionmaker
from app.placements.models import ACTIVE_STATUSES, Placement, PlacementRoom
from tests.service.conftest import REQUEST
from tests.territories.conftest import Side

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def slow_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each engine call sleeps 1 s first: both runs are solving at the same time."""
    monkeypatch.setattr(get_settings(), "allocation_time_limit_s", 2.0)
    monkeypatch.setattr(runner.get_runner(), "target", "tests.workflow.engines:slow")


def _territory_id(code: str) -> str:
    from app.territories.service import by_code

    with get_sessionmaker()() as s:
        territory = by_code(s, code)
        assert territory is not None
        return territory.id


def _both_at_once(codes: list[str]) -> dict[str, str]:
    """One run per territory, queued together and run by two worker threads (and the test
    app's own local worker, which may take one): each worker runs one run at a time, so
    the two are on two workers at once. Their ids once both are over."""
    settings = get_settings()
    workers = [Worker(settings) for _ in range(2)]
    threads = [threading.Thread(target=w.serve, daemon=True) for w in workers]
    for t in threads:
        t.start()
    try:
        ids = {code: queue.enqueue(settings, None, "api", _territory_id(code)) for code in codes}
        for run_id in ids.values():
            assert queue.wait_finished(run_id, 120) is not None, run_id
    finally:
        for w in workers:
            w.stop.set()
        for t in threads:
            t.join(60)
    return ids


def _waiting(client: Any, side: Side, reference: str, lat: float, lon: float) -> str:
    r = client.post(
        "/api/v1/requests",
        json={**REQUEST, "reference": reference, "origin": {"lat": lat, "lon": lon}},
        headers=side.operator,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_two_territories_run_in_parallel_and_both_finish(client, two_territories) -> None:
    nord, pdc = two_territories
    for side, (lat, lon) in ((nord, (50.357, 3.523)), (pdc, (50.29, 2.78))):
        r = client.post(
            f"/api/v1/shelters/{side.shelter['id']}/rooms",
            json={"label": "R2", "beds": 2},
            headers=side.admin,
        )
        assert r.status_code == 201
        _waiting(client, side, f"115-{side.code}-par", lat, lon)

    ids = _both_at_once(["59", "62"])

    with get_sessionmaker()() as s:
        runs = {code: s.get(AllocationRun, run_id) for code, run_id in ids.items()}
    for code, run in runs.items():
        assert run is not None and run.status in ("optimal", "feasible"), code
        assert run.stats is not None and run.stats["proposals"] == 1, code
    a, b = runs["59"], runs["62"]
    assert a is not None and b is not None and a.finished_at and b.finished_at
    # They overlapped: each started before the other finished (one lease each).
    assert a.started_at < b.finished_at and b.started_at < a.finished_at


def test_two_runs_sharing_a_neighbour_shelter_never_give_a_bed_twice(
    client, national, two_territories
) -> None:
    nord, pdc = two_territories
    # The Pas-de-Calais may place in the Nord's shelters; a second room there, free tonight.
    etag = client.get("/api/v1/territories/62", headers=national).headers["etag"]
    r = client.put(
        "/api/v1/territories/62/neighbours",
        json={"neighbours": ["59"]},
        headers={**national, "If-Match": etag},
    )
    assert r.status_code == 200 and r.json()["neighbours"] == ["59"]
    r = client.post(
        f"/api/v1/shelters/{nord.shelter['id']}/rooms",
        json={"label": "shared tonight", "beds": 2},
        headers=nord.admin,
    )
    assert r.status_code == 201
    room_id = r.json()["id"]
    # One household in each territory, both next to that shelter, each fits the room alone.
    _waiting(client, nord, "115-59-one-room", 50.357, 3.523)
    _waiting(client, pdc, "115-62-one-room", 50.357, 3.523)

    ids = _both_at_once(["59", "62"])

    with get_sessionmaker()() as s:
        holders = s.scalar(
            select(func.count())
            .select_from(PlacementRoom)
            .where(PlacementRoom.room_id == room_id, PlacementRoom.active.is_(True))
        )
        live = s.scalar(
            select(func.count())
            .select_from(Placement)
            .join(PlacementRoom, PlacementRoom.placement_id == Placement.id)
            .where(
                PlacementRoom.room_id == room_id,
                Placement.status.in_([st.value for st in ACTIVE_STATUSES]),
            )
        )
        runs = [s.get(AllocationRun, run_id) for run_id in ids.values()]
    assert holders == 1 and live == 1  # one household holds the room, never two
    stats = [run.stats or {} for run in runs if run is not None]
    assert sum(st["proposals"] for st in stats) == 1
    # The other run planned the room too and was refused at its write-back's re-check.
    assert sum(st["skipped_rooms_taken"] for st in stats) == 1
    # The shelter's staff see the household placed there, whichever territory it is from.
    staff = client.get("/api/v1/placements", headers=nord.shelter_staff).json()
    assert any(room_id in p["room_ids"] for p in staff["items"])
