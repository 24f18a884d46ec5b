"""Holds are honoured by every write, overdue holds expire before they are judged, and
every visible change moves the ETag (one format, ``"<id>-v<version>"``)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from app.core.db import get_sessionmaker, utcnow
from app.placements.models import Placement
from app.shelters.models import Room
from tests.workflow.factories import check_live_placements, make_request, make_shelter

API = "/api/v1"
VERSIONED_ETAG = re.compile(r'^"[a-z]+_[0-9a-f]{16}-v[0-9]+"$')


def _place(client, auth, request_id: str, shelter_id: str, room_ids: list[str]) -> dict:
    r = client.post(
        f"{API}/requests/{request_id}/placements",
        json={"shelter_id": shelter_id, "room_ids": room_ids},
        headers=auth("operator"),
    )
    assert r.status_code == 201, r.text
    return r.json()


def _patch_room(client, headers, room_id: str, change: dict):
    etag = client.get(f"{API}/rooms/{room_id}", headers=headers).headers["etag"]
    return client.patch(
        f"{API}/rooms/{room_id}", json=change, headers={**headers, "If-Match": etag}
    )


def _room(room_id: str) -> Room:
    with get_sessionmaker()() as s:
        room = s.get(Room, room_id)
        assert room is not None
        return room


def _make_overdue(placement_id: str) -> None:
    with get_sessionmaker()() as s, s.begin():
        s.execute(
            update(Placement)
            .where(Placement.id == placement_id)
            .values(expires_at=utcnow() - timedelta(seconds=5))
        )


def test_room_patch_may_not_overlap_a_hold(client, session, auth) -> None:
    shelter = make_shelter(session, rooms=[{"beds": 2, "cribs": 1}])
    req = make_request(session, members=[(30, "F"), (1, "M")])
    session.commit()
    room_id = shelter.rooms[0].id
    placement = _place(client, auth, req.id, shelter.id, [room_id])
    staff = auth("shelter", shelter.id)
    for change in (
        {"occupied_beds": 1},
        {"out_of_service": True},
        {"beds": 1, "cribs": 2},
        {"cribs": 0},
    ):
        r = _patch_room(client, staff, room_id, change)
        assert r.status_code == 409, (change, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["placement_ids"] == [placement["id"]]
        assert placement["id"] in r.json()["detail"]
    room = _room(room_id)
    assert (room.occupied_beds, room.out_of_service, room.beds, room.cribs) == (0, False, 2, 1)
    # What does not overlap the hold is fine (a label, a bigger room).
    assert _patch_room(client, staff, room_id, {"label": "Family 1", "beds": 3}).status_code == 200
    # Once the shelter declines the placement, the room is its own again.
    r = client.post(
        f"{API}/placements/{placement['id']}/decline", json={"reason": "closed"}, headers=staff
    )
    assert r.status_code == 200
    assert _patch_room(client, staff, room_id, {"out_of_service": True}).status_code == 200


def test_shared_room_keeps_room_for_its_held_beds(client, session, auth) -> None:
    shelter = make_shelter(session, rooms=[{"beds": 4, "shared": True, "sex": "F"}])
    req = make_request(session, members=[(30, "F")])
    other = make_request(session, members=[(50, "F")])
    session.commit()
    room_id = shelter.rooms[0].id
    first = _place(client, auth, req.id, shelter.id, [room_id])
    second = _place(client, auth, other.id, shelter.id, [room_id])
    admin = auth("admin")
    # Two beds held: at most two may be occupied otherwise, and the room may not shrink below.
    r = _patch_room(client, admin, room_id, {"occupied_beds": 3})
    assert r.status_code == 409 and r.json()["placement_ids"] == sorted([first["id"], second["id"]])
    assert _patch_room(client, admin, room_id, {"beds": 3, "occupied_beds": 2}).status_code == 409
    assert _patch_room(client, admin, room_id, {"occupied_beds": 2}).status_code == 200
    assert check_live_placements() == []


def test_availability_may_not_overlap_a_hold_and_changes_nothing(client, session, auth) -> None:
    shelter = make_shelter(session, rooms=[{"beds": 2}, {"beds": 1}])
    req = make_request(session, members=[(30, "F")])
    session.commit()
    held, free = shelter.rooms[0].id, shelter.rooms[1].id
    placement = _place(client, auth, req.id, shelter.id, [held])
    staff = auth("shelter", shelter.id)
    before = client.get(f"{API}/shelters/{shelter.id}", headers=staff).json()
    url = f"{API}/shelters/{shelter.id}/availability"
    rows = [
        {"room_id": free, "out_of_service": True, "occupied_beds": 0},
        {"room_id": held, "out_of_service": False, "occupied_beds": 2},
    ]
    r = client.put(url, json=rows, headers=staff)
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["placement_ids"] == [placement["id"]] and body["room_ids"] == [held]
    assert body["errors"][0]["loc"] == [1, "occupied_beds"]
    # All or nothing: the free room did not go out of service, the shelter was not stamped.
    assert _room(free).out_of_service is False
    after = client.get(f"{API}/shelters/{shelter.id}", headers=staff).json()
    assert after["version"] == before["version"]
    rows[1]["occupied_beds"] = 0
    assert client.put(url, json=rows, headers=staff).status_code == 200
    assert check_live_placements() == []


def test_overdue_hold_expires_before_manual_placement_options_and_availability(
    client, session, auth
) -> None:
    shelter = make_shelter(session, rooms=[{"beds": 2}])
    first = make_request(session, members=[(30, "F")])
    second = make_request(session, members=[(31, "F")])
    session.commit()
    room_id = shelter.rooms[0].id
    op = auth("operator")
    stale = _place(client, auth, first.id, shelter.id, [room_id])
    _make_overdue(stale["id"])
    # The room shows free and is an option at once, not at the next background pass.
    avail = client.get(f"{API}/availability", headers=auth("viewer")).json()
    assert avail["totals"]["free_private_rooms"] == 1
    placement = _place(client, auth, second.id, shelter.id, [room_id])
    assert client.get(f"{API}/placements/{stale['id']}", headers=op).json()["status"] == "expired"
    _make_overdue(placement["id"])
    options = client.get(f"{API}/requests/{first.id}/options", headers=op).json()
    assert [o["shelter_id"] for o in options["options"]] == [shelter.id]
    # An overdue hold does not refuse the shelter's evening update either.
    third = _place(client, auth, first.id, shelter.id, [room_id])
    _make_overdue(third["id"])
    r = client.put(
        f"{API}/shelters/{shelter.id}/availability",
        json=[{"room_id": room_id, "out_of_service": True, "occupied_beds": 0}],
        headers=auth("shelter", shelter.id),
    )
    assert r.status_code == 200, r.text
    assert client.get(f"{API}/placements/{third['id']}", headers=op).json()["status"] == "expired"


def test_if_match_is_required_on_room_and_shelter_patch(client, session, auth) -> None:
    shelter = make_shelter(session, rooms=[{"beds": 2}])
    session.commit()
    admin = auth("admin")
    for url, change in (
        (f"{API}/rooms/{shelter.rooms[0].id}", {"beds": 3}),
        (f"{API}/shelters/{shelter.id}", {"pets": True}),
    ):
        r = client.patch(url, json=change, headers=admin)
        assert r.status_code == 428, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert client.get(url, headers=admin).json()["version"] == 1
        r = client.patch(url, json=change, headers={**admin, "If-Match": r.headers["etag"]})
        assert r.status_code == 200 and r.json()["version"] == 2


def test_a_run_writing_an_unplaced_reason_moves_the_request_etag(client, session, auth) -> None:
    make_shelter(session, rooms=[{"beds": 1}])
    req = make_request(session, members=[(30, "F"), (35, "M"), (8, "F")])  # 3 people, 1 bed
    session.commit()
    op = auth("operator")
    url = f"{API}/requests/{req.id}"
    etag = client.get(url, headers=op).headers["etag"]
    assert client.get(url, headers={**op, "If-None-Match": etag}).status_code == 304
    run = client.post(f"{API}/allocations", headers=op).json()
    assert [u["request_id"] for u in run["unplaced"]] == [req.id]
    r = client.get(url, headers={**op, "If-None-Match": etag})
    assert r.status_code == 200, "a 304 would hide the run's unplaced reason"
    assert r.json()["unplaced_code"] and r.json()["last_allocation_id"] == run["id"]
    assert r.headers["etag"] != etag


def test_one_etag_format_everywhere(client, session, auth) -> None:
    shelter = make_shelter(session, rooms=[{"beds": 2}])
    req = make_request(session, members=[(30, "F")])
    session.commit()
    op, admin = auth("operator"), auth("admin")
    run = client.post(f"{API}/allocations", headers=op)
    pid = run.json()["proposals"][0]["placement_id"]
    versioned = {
        "shelter": client.get(f"{API}/shelters/{shelter.id}", headers=admin),
        "room": client.get(f"{API}/rooms/{shelter.rooms[0].id}", headers=admin),
        "request": client.get(f"{API}/requests/{req.id}", headers=op),
        "run": run,
        "latest": client.get(f"{API}/allocations/latest", headers=op),
        "placement": client.get(f"{API}/placements/{pid}", headers=op),
    }
    for name, r in versioned.items():
        assert VERSIONED_ETAG.match(r.headers["etag"]), (name, r.headers["etag"])
    documents = {
        "dashboard": client.get(f"{API}/dashboard/summary", headers=op),
        "availability": client.get(f"{API}/availability", headers=op),
    }
    for name, r in documents.items():
        assert re.match(rf'^"{name}-v[0-9a-f]+"$', r.headers["etag"]), r.headers["etag"]
