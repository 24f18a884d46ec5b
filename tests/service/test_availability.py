"""The evening availability update and the free capacity tonight."""

from __future__ import annotations

from typing import Any


def _rooms(client: Any, headers: Any, shelter_id: str) -> dict[str, Any]:
    rooms = client.get(f"/api/v1/shelters/{shelter_id}/rooms", headers=headers).json()
    return {r["label"]: r for r in rooms}


def test_put_availability_stamps_and_applies(
    client: Any, auth: Any, new_shelter: Any, new_room: Any
) -> None:
    s = new_shelter()
    a = new_room(s["id"], label="A", beds=2)
    d = new_room(s["id"], label="D", beds=6, shared=True, sex="M")
    assert s["availability_updated_at"] is None
    staff = auth("shelter", shelter_id=s["id"])
    body = [
        {"room_id": a["id"], "out_of_service": True, "occupied_beds": 0},
        {"room_id": d["id"], "out_of_service": False, "occupied_beds": 4},
    ]
    r = client.put(f"/api/v1/shelters/{s['id']}/availability", json=body, headers=staff)
    assert r.status_code == 200, r.text
    assert r.json()["availability_updated_at"] is not None
    rooms = _rooms(client, staff, s["id"])
    assert rooms["A"]["out_of_service"] is True and rooms["D"]["free_beds"] == 2
    shelter = client.get(f"/api/v1/shelters/{s['id']}", headers=staff).json()
    assert shelter["availability_updated_at"] == r.json()["availability_updated_at"]
    # Admins may do it too; operators not.
    assert (
        client.put(
            f"/api/v1/shelters/{s['id']}/availability", json=[], headers=auth("admin")
        ).status_code
        == 200
    )
    assert (
        client.put(
            f"/api/v1/shelters/{s['id']}/availability", json=[], headers=auth("operator")
        ).status_code
        == 403
    )


def test_put_availability_is_all_or_nothing(
    client: Any, auth: Any, new_shelter: Any, new_room: Any
) -> None:
    s = new_shelter()
    other = new_shelter(name="Other")
    a = new_room(s["id"], label="A", beds=2)
    b = new_room(s["id"], label="B", beds=3)
    foreign = new_room(other["id"], label="Z", beds=1)
    staff = auth("shelter", shelter_id=s["id"])
    body = [
        {"room_id": a["id"], "out_of_service": True, "occupied_beds": 0},
        {"room_id": foreign["id"], "out_of_service": False, "occupied_beds": 0},
        {"room_id": "room_unknown", "out_of_service": False, "occupied_beds": 0},
        {"room_id": b["id"], "out_of_service": False, "occupied_beds": 4},
    ]
    r = client.put(f"/api/v1/shelters/{s['id']}/availability", json=body, headers=staff)
    assert r.status_code == 422
    locs = [e["loc"] for e in r.json()["errors"]]
    assert locs == [[1, "room_id"], [2, "room_id"], [3, "occupied_beds"]]
    rooms = _rooms(client, staff, s["id"])
    assert rooms["A"]["out_of_service"] is False and rooms["A"]["version"] == 1
    shelter = client.get(f"/api/v1/shelters/{s['id']}", headers=staff).json()
    assert shelter["availability_updated_at"] is None
    # A misspelt field is refused, not ignored.
    r = client.put(
        f"/api/v1/shelters/{s['id']}/availability",
        json=[{"room_id": a["id"], "out_of_service": False, "ocupied_beds": 1}],
        headers=staff,
    )
    assert r.status_code == 422


def test_availability_numbers(client: Any, auth: Any, new_shelter: Any, new_room: Any) -> None:
    s = new_shelter(name="A-shelter")
    new_room(s["id"], label="F1", beds=4, cribs=1)
    new_room(s["id"], label="F2", beds=4, cribs=1, wheelchair=True)
    new_room(s["id"], label="S1", beds=1)
    new_room(s["id"], label="S2", beds=1, occupied_beds=1)  # occupied: not free
    new_room(s["id"], label="S3", beds=2, out_of_service=True)  # out of service: not free
    new_room(s["id"], label="DF", beds=8, shared=True, sex="F", occupied_beds=3)
    new_room(s["id"], label="DM", beds=6, shared=True, sex="M")
    closed = new_shelter(name="B-closed")
    new_room(closed["id"], label="X", beds=3)
    client.patch(
        f"/api/v1/shelters/{closed['id']}",
        json={"active": False},
        headers={**auth("admin"), "If-Match": "*"},
    )

    r = client.get("/api/v1/availability", headers=auth("viewer"))
    assert r.status_code == 200
    body = r.json()
    assert [x["name"] for x in body["shelters"]] == ["A-shelter"]
    item = body["shelters"][0]
    assert item["free_private_rooms"] == [
        {"beds": 1, "cribs": 0, "rooms": 1, "wheelchair_rooms": 0},
        {"beds": 4, "cribs": 1, "rooms": 2, "wheelchair_rooms": 1},
    ]
    assert item["free_shared_beds"] == {"F": 5, "M": 6}
    assert item["free_beds"] == 1 + 8 + 5 + 6
    assert item["free_cribs"] == 2
    assert body["totals"]["free_private_rooms"] == 3
    # Polling: 304 while nothing changes.
    etag = r.headers["etag"]
    again = client.get("/api/v1/availability", headers={**auth("operator"), "If-None-Match": etag})
    assert again.status_code == 304


def test_live_placements_hold_beds(
    client: Any, auth: Any, new_shelter: Any, new_room: Any, new_request: Any
) -> None:
    from app.core.db import get_sessionmaker
    from app.placements.models import Placement, PlacementRoom

    s = new_shelter()
    private = new_room(s["id"], label="P", beds=3)
    dorm = new_room(s["id"], label="D", beds=5, shared=True, sex="F")
    req = new_request()
    with get_sessionmaker()() as db:
        p = Placement(territory_id="ter_59", request_id=req["id"], shelter_id=s["id"], km=1.0)
        p.rooms.append(PlacementRoom(room_id=private["id"], shared=False, beds=2))
        p.rooms.append(PlacementRoom(room_id=dorm["id"], shared=True, beds=1))
        db.add(p)
        db.commit()
    item = client.get("/api/v1/availability", headers=auth("viewer")).json()["shelters"][0]
    assert item["free_private_rooms"] == [] and item["free_shared_beds"] == {"F": 4, "M": 0}
    rooms = _rooms(client, auth("admin"), s["id"])
    assert rooms["P"]["held_beds"] == 2 and rooms["P"]["free_beds"] == 0
