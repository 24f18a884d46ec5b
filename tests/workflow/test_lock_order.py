"""Every writer at once on PostgreSQL (docs/architecture.md, "Lock order"): no deadlock,
no 5xx, and nothing double-booked, checked in the database afterwards.

16 clients fire >= 2,000 operations mixing the evening availability update (rooms listed in
a random order), room and shelter PATCHes, manual placements, allocation runs, every
placement transition, cancellations and hold expiry (holds made overdue on purpose, then
expired by the background pass, manual placement, options or availability). It stops at
2,000 operations (70 s on 2 cores shared with other work; fails past 150 s).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from app.allocations.background import expire_once
from app.core.db import get_engine, get_sessionmaker, utcnow
from app.placements.models import ACTIVE_STATUSES, Placement, PlacementRoom
from app.requests.models import PlacementRequest
from app.shelters.models import Room
from tests.workflow.factories import check_live_placements, make_request, make_shelter

API = "/api/v1"
ACTIVE = [s.value for s in ACTIVE_STATUSES]
CLIENTS = 16
OPERATIONS = 2000
# A safety bound, not the expected time: ~30-70 s on 2 cores (the latter on a loaded machine).
DEADLINE_S = 150.0
# What a client may be told while others act at once: never a 5xx (a deadlock victim is
# answered 503 "try again", so a deadlock fails this test too).
ALLOWED = {200, 201, 404, 409, 412, 422}

ROOMS = [
    [{"beds": 2}, {"beds": 1}, {"beds": 3, "cribs": 1}, {"beds": 4, "shared": True, "sex": "F"}],
    [{"beds": 1}, {"beds": 2}, {"beds": 5, "shared": True, "sex": "M"}],
    [{"beds": 2}, {"beds": 2}, {"beds": 3}, {"beds": 3, "shared": True, "sex": "F"}],
]
MEMBERS = {
    "woman": [(30, "F")],
    "man": [(40, "M")],
    "mother": [(28, "F"), (4, "M")],
    "family": [(35, "F"), (37, "M"), (9, "F")],
}


def _setup(session: Any) -> tuple[list[Any], list[Any]]:
    shelters = [
        make_shelter(session, lat=50.357 + 0.03 * i, lon=3.52 + 0.02 * i, rooms=ROOMS[i % 3])
        for i in range(5)
    ]
    rng = random.Random(12)
    requests = [
        make_request(
            session, members=MEMBERS[rng.choice(list(MEMBERS))], priority=rng.randint(1, 4)
        )
        for _ in range(60)
    ]
    requests[1].keep_apart = [{"request_id": requests[0].id, "km": 3}]
    requests[5].keep_apart = [{"request_id": requests[4].id, "km": 3}]
    session.commit()
    return shelters, requests


def _pg_deadlocks() -> int:
    with get_engine().connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        return int(
            conn.scalar(
                text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            )
            or 0
        )


def _age_one_hold(rng: random.Random) -> None:
    """Make one proposed placement overdue, as if its 90 minutes had passed."""
    with get_sessionmaker()() as s, s.begin():
        ids = list(s.scalars(select(Placement.id).where(Placement.status == "proposed")))
        if ids:
            s.execute(
                update(Placement)
                .where(Placement.id == rng.choice(ids), Placement.status == "proposed")
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )


class Clients:
    """Shared counters of the run: operations done, status codes, unexpected answers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = 0
        self.codes: Counter[int] = Counter()
        self.by_action: Counter[str] = Counter()
        self.errors: list[str] = []
        self.stop_at = time.monotonic() + DEADLINE_S

    def more(self) -> bool:
        with self.lock:
            if self.done >= OPERATIONS or time.monotonic() > self.stop_at:
                return False
            self.done += 1
            return True

    def saw(self, action: str, method: str, url: str, status: int, body: str) -> None:
        with self.lock:
            self.codes[status] += 1
            self.by_action[f"{action} {status}"] += 1
            if status not in ALLOWED:
                self.errors.append(f"{method} {url} -> {status} {body[:300]}")


def _worker(
    client: Any,
    seed: int,
    state: Clients,
    rooms: dict[str, list[dict[str, Any]]],
    request_ids: list[str],
    tokens: dict[str, dict[str, str]],
) -> None:
    rng = random.Random(seed)
    op, admin = tokens["operator"], tokens["admin"]

    def call(action: str, method: str, url: str, **kw: Any) -> Any:
        r = client.request(method, url, **kw)
        state.saw(action, method, url, r.status_code, r.text)
        return r

    def availability() -> None:
        sid = rng.choice(list(rooms))
        listed = rng.sample(rooms[sid], len(rooms[sid]))  # the client's own order
        items = [
            {
                "room_id": r["id"],
                "out_of_service": rng.random() < 0.1,
                "occupied_beds": rng.randint(0, r["beds"]) if rng.random() < 0.3 else 0,
            }
            for r in listed
        ]
        call(
            "availability",
            "PUT",
            f"{API}/shelters/{sid}/availability",
            json=items,
            headers=tokens[sid],
        )

    def room_patch() -> None:
        sid = rng.choice(list(rooms))
        room = rng.choice(rooms[sid])
        got = client.get(f"{API}/rooms/{room['id']}", headers=tokens[sid])
        change = rng.choice(
            [
                {"occupied_beds": rng.randint(0, room["beds"])},
                {"out_of_service": rng.random() < 0.3},
                {"beds": room["beds"] + rng.choice([-1, 0, 1])},
                {"occupied_beds": 0, "out_of_service": False},
            ]
        )
        if change.get("beds", 1) < 1:
            change = {"beds": 1}
        call(
            "room_patch",
            "PATCH",
            f"{API}/rooms/{room['id']}",
            json=change,
            headers={**tokens[sid], "If-Match": got.headers.get("etag", "*")},
        )

    def shelter_patch() -> None:
        sid = rng.choice(list(rooms))
        got = client.get(f"{API}/shelters/{sid}", headers=admin)
        call(
            "shelter_patch",
            "PATCH",
            f"{API}/shelters/{sid}",
            json={"intake_phone": f"03 27 00 {rng.randint(10, 99)} 00"},
            headers={**admin, "If-Match": got.headers.get("etag", "*")},
        )

    def manual() -> None:
        sid = rng.choice(list(rooms))
        chosen = rng.sample([r["id"] for r in rooms[sid]], rng.choice([1, 1, 2]))
        call(
            "manual",
            "POST",
            f"{API}/requests/{rng.choice(request_ids)}/placements",
            json={"shelter_id": sid, "room_ids": chosen},
            headers=op,
        )

    def transition(step: str) -> None:
        wanted = {
            "accept": "proposed",
            "decline": "proposed",
            "arrive": "accepted",
            "end": "arrived",
        }[step]
        page = client.get(
            f"{API}/placements", params={"status": wanted, "limit": 10}, headers=op
        ).json()
        if not page.get("items"):
            return
        p = rng.choice(page["items"])
        headers = op if step in ("accept", "decline") else tokens[p["shelter_id"]]
        kw = {"json": {"reason": "test"}} if step == "decline" else {}
        call(step, "POST", f"{API}/placements/{p['id']}/{step}", headers=headers, **kw)

    actions: dict[str, Callable[[], None]] = {
        "availability": availability,
        "room_patch": room_patch,
        "shelter_patch": shelter_patch,
        "manual": manual,
        "run": lambda: call("run", "POST", f"{API}/allocations", headers=op),
        "accept": lambda: transition("accept"),
        "decline": lambda: transition("decline"),
        "arrive": lambda: transition("arrive"),
        "end": lambda: transition("end"),
        "cancel": lambda: call(
            "cancel", "POST", f"{API}/requests/{rng.choice(request_ids)}/cancel", headers=op
        ),
        "options": lambda: call(
            "options", "GET", f"{API}/requests/{rng.choice(request_ids)}/options", headers=op
        ),
        "read_availability": lambda: call(
            "read_availability", "GET", f"{API}/availability", headers=op
        ),
        "age_hold": lambda: _age_one_hold(rng),
        "expire": expire_once,
    }
    weights = {
        "availability": 6,
        "room_patch": 5,
        "shelter_patch": 2,
        "manual": 10,
        "run": 1,
        "accept": 3,
        "decline": 2,
        "arrive": 2,
        "end": 2,
        "cancel": 1,
        "options": 2,
        "read_availability": 1,
        "age_hold": 2,
        "expire": 1,
    }
    names = list(weights)
    while state.more():
        actions[rng.choices(names, weights=[weights[n] for n in names])[0]]()


def _assert_no_double_booking() -> None:
    with get_sessionmaker()() as s:
        rooms = {r.id: r for r in s.scalars(select(Room))}
        held = s.execute(
            select(PlacementRoom.room_id, func.count(), func.sum(PlacementRoom.beds))
            .where(PlacementRoom.active.is_(True))
            .group_by(PlacementRoom.room_id)
        ).all()
        for room_id, n, beds in held:
            room = rooms[room_id]
            assert not room.out_of_service, f"{room_id} is out of service under a hold"
            assert beds + room.occupied_beds <= room.beds, (room_id, beds, room.occupied_beds)
            assert room.shared or n == 1, f"private room {room_id} held {n} times"
        stray = s.scalar(
            select(func.count())
            .select_from(PlacementRoom)
            .join(Placement)
            .where(PlacementRoom.active.is_(True), Placement.status.notin_(ACTIVE))
        )
        assert stray == 0
        live = s.execute(
            select(Placement.request_id, Placement.status).where(Placement.status.in_(ACTIVE))
        ).all()
        per_request = Counter(rid for rid, _ in live)
        assert max(per_request.values(), default=0) <= 1
        statuses = dict(s.execute(select(PlacementRequest.id, PlacementRequest.status)).all())
        for rid, pstatus in live:
            assert statuses[rid] == pstatus, (rid, statuses[rid], pstatus)
        failed = s.scalar(text("SELECT count(*) FROM allocation_runs WHERE status = 'failed'"))
        assert failed == 0, "an allocation run failed"
    assert check_live_placements() == []


@pytest.mark.postgres
def test_every_writer_at_once_no_deadlock_no_double_booking(session, make_token) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app

    shelters, requests = _setup(session)
    tokens = {
        "operator": {"Authorization": f"Bearer {make_token('operator')}"},
        "admin": {"Authorization": f"Bearer {make_token('admin')}"},
        **{
            s.id: {"Authorization": f"Bearer {make_token('shelter', shelter_id=s.id)}"}
            for s in shelters
        },
    }
    rooms = {s.id: [{"id": r.id, "beds": r.beds} for r in s.rooms] for s in shelters}
    deadlocks_before = _pg_deadlocks()
    state = Clients()
    request_ids = [r.id for r in requests]
    started = time.monotonic()
    # One app (one worker: its thread pool and connection pool) serving 16 client threads.
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        threads = [
            threading.Thread(target=_worker, args=(client, i, state, rooms, request_ids, tokens))
            for i in range(CLIENTS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=DEADLINE_S + 60)
    elapsed = time.monotonic() - started
    get_engine().dispose()  # backends exit and report their statistics
    time.sleep(1.5)
    deadlocks = _pg_deadlocks() - deadlocks_before
    print(
        f"{state.done} operations in {elapsed:.1f} s; status codes {dict(state.codes)}; "
        f"PostgreSQL deadlocks {deadlocks}; by action {dict(sorted(state.by_action.items()))}"
    )
    assert state.done >= OPERATIONS, f"only {state.done} operations in {DEADLINE_S} s"
    assert deadlocks == 0, f"{deadlocks} deadlocks detected by PostgreSQL"
    assert state.codes[503] == 0 and not state.errors, state.errors[:5]
    assert state.codes[201] > 0 and state.codes[409] > 0, state.codes
    _assert_no_double_booking()
