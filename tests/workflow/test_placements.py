"""The placement lifecycle, roles, manual placement, options, expiry and ETag polling."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.core.db import get_sessionmaker, utcnow
from app.placements.models import Placement, PlacementRoom
from app.placements.service import expire_holds
from app.requests.models import PlacementRequest
from app.shelters.capacity import free_rooms
from tests.workflow.factories import check_live_placements, make_request, make_shelter

API = "/api/v1"


def _propose(client, auth, session, **request_fields):
    """One shelter with one room, one request, one run: its single proposal."""
    shelter = make_shelter(session, rooms=[{"beds": 2}])
    req = make_request(session, **request_fields)
    session.commit()
    run = client.post(f"{API}/allocations", headers=auth("operator")).json()
    [proposal] = run["proposals"]
    return shelter, req, proposal


def _status(session, model, id_: str) -> str:
    # A fresh, short session: on SQLite an open transaction would block the next request.
    with get_sessionmaker()() as s:
        return s.get(model, id_).status


def test_accept_arrive_end(client, session, auth) -> None:
    shelter, req, prop = _propose(client, auth, session)
    pid = prop["placement_id"]
    op, staff = auth("operator"), auth("shelter", shelter.id)
    r = client.post(f"{API}/placements/{pid}/accept", headers=op)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "accepted" and body["expires_at"] is None
    assert body["household"] == {
        "people": 1,
        "members": [{"age": 30, "sex": "F"}],
        "needs": {
            "dv_specialised": False,
            "secure": False,
            "wheelchair": False,
            "pets": False,
            "language": None,
        },
    }
    assert "reference" not in r.text and req.reference not in r.text
    assert _status(session, PlacementRequest, req.id) == "accepted"
    # Accepting twice is a conflict, as is ending before arrival.
    r = client.post(f"{API}/placements/{pid}/accept", headers=op)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem")
    assert client.post(f"{API}/placements/{pid}/end", headers=staff).status_code == 409
    r = client.post(f"{API}/placements/{pid}/arrive", headers=staff)
    assert r.status_code == 200 and r.json()["status"] == "arrived"
    assert _status(session, PlacementRequest, req.id) == "arrived"
    r = client.post(f"{API}/placements/{pid}/decline", json={"reason": "x"}, headers=op)
    assert r.status_code == 409
    r = client.post(f"{API}/placements/{pid}/end", headers=staff)
    assert r.status_code == 200 and r.json()["status"] == "ended"
    with get_sessionmaker()() as s:
        closed = s.get(PlacementRequest, req.id)
        assert closed.status == "ended" and closed.closed_at is not None
        assert free_rooms(s, [shelter.id])  # the room is free again
    for step in ("accept", "arrive", "end"):
        assert (
            client.post(f"{API}/placements/{pid}/{step}", headers=auth("admin")).status_code == 409
        )


def test_arrive_straight_from_proposed(client, session, auth) -> None:
    shelter, _req, prop = _propose(client, auth, session)
    r = client.post(
        f"{API}/placements/{prop['placement_id']}/arrive", headers=auth("shelter", shelter.id)
    )
    assert r.status_code == 200
    assert r.json()["status"] == "arrived" and r.json()["accepted_at"]


def test_decline_returns_to_pending_and_next_run_goes_elsewhere(client, session, auth) -> None:
    near = make_shelter(session, rooms=[{"beds": 1}])
    far = make_shelter(session, lat=50.6, lon=3.2, rooms=[{"beds": 1}])
    req = make_request(session)
    session.commit()
    run = client.post(f"{API}/allocations", headers=auth("operator")).json()
    [prop] = run["proposals"]
    assert prop["shelter_id"] == near.id
    staff = auth("shelter", near.id)
    r = client.post(f"{API}/placements/{prop['placement_id']}/decline", json={}, headers=staff)
    assert r.status_code == 422  # a reason is required
    r = client.post(
        f"{API}/placements/{prop['placement_id']}/decline",
        json={"reason": "no staff for a late arrival"},
        headers=staff,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "declined"
    assert r.json()["decline_reason"] == "no staff for a late arrival"
    assert _status(session, PlacementRequest, req.id) == "pending"
    assert [f.room_id for f in free_rooms(session, [near.id])] == [near.rooms[0].id]
    session.commit()
    again = client.post(f"{API}/allocations", headers=auth("operator")).json()
    [prop2] = again["proposals"]
    assert prop2["request_id"] == req.id and prop2["shelter_id"] == far.id
    # The operator may still place by hand where it was declined (options show it).
    options = client.get(f"{API}/requests/{req.id}/options", headers=auth("operator")).json()
    assert options["options"] == [] or all(o["shelter_id"] != far.id for o in options["options"])


def test_expiry_frees_beds_and_the_request_waits_again(client, session, auth) -> None:
    shelter, req, prop = _propose(client, auth, session)
    latest = client.get(f"{API}/allocations/latest", headers=auth("viewer"))
    etag = latest.headers["ETag"]
    with get_sessionmaker()() as s, s.begin():
        assert expire_holds(s, utcnow()) == 0  # not yet
    with get_sessionmaker()() as s, s.begin():
        assert expire_holds(s, utcnow() + timedelta(minutes=91)) == 1
    assert _status(session, Placement, prop["placement_id"]) == "expired"
    assert _status(session, PlacementRequest, req.id) == "pending"
    assert len(free_rooms(session, [shelter.id])) == 1
    assert not session.scalars(select(PlacementRoom).where(PlacementRoom.active)).all()
    session.commit()
    r = client.get(f"{API}/allocations/latest", headers={**auth("viewer"), "If-None-Match": etag})
    assert r.status_code == 200 and r.headers["ETag"] != etag
    assert r.json()["proposals"][0]["status"] == "expired"
    # An expired proposal can no longer be accepted.
    r = client.post(f"{API}/placements/{prop['placement_id']}/accept", headers=auth("operator"))
    assert r.status_code == 409


def test_roles_and_visibility(client, session, auth) -> None:
    shelter, req, prop = _propose(client, auth, session)
    other = make_shelter(session)
    session.commit()
    pid = prop["placement_id"]
    mine, theirs = auth("shelter", shelter.id), auth("shelter", other.id)
    assert client.get(f"{API}/placements/{pid}", headers=mine).status_code == 200
    assert client.get(f"{API}/placements/{pid}", headers=theirs).status_code == 404
    r = client.post(f"{API}/placements/{pid}/decline", json={"reason": "x"}, headers=theirs)
    assert r.status_code == 404
    assert client.post(f"{API}/placements/{pid}/arrive", headers=theirs).status_code == 404
    assert client.post(f"{API}/placements/{pid}/accept", headers=mine).status_code == 403
    assert (
        client.post(f"{API}/placements/{pid}/arrive", headers=auth("operator")).status_code == 403
    )
    assert client.get(f"{API}/placements", headers=auth("viewer")).status_code == 403
    assert client.get(f"{API}/placements/{pid}", headers=auth("viewer")).status_code == 403
    assert client.get(f"{API}/placements", headers=mine).json()["total"] == 1
    assert client.get(f"{API}/placements", headers=theirs).json()["total"] == 0
    page = client.get(f"{API}/placements", params={"shelter_id": shelter.id}, headers=theirs).json()
    assert page["items"] == []
    page = client.get(
        f"{API}/placements", params={"status": "proposed"}, headers=auth("operator")
    ).json()
    assert [p["id"] for p in page["items"]] == [pid]
    page = client.get(
        f"{API}/placements", params={"status": "accepted"}, headers=auth("admin")
    ).json()
    assert page["items"] == []
    opts = client.get(f"{API}/requests/{req.id}/options", headers=mine)
    assert opts.status_code == 403
    r = client.post(
        f"{API}/requests/{req.id}/placements",
        json={"shelter_id": shelter.id, "room_ids": ["x"]},
        headers=mine,
    )
    assert r.status_code == 403


def test_placement_etag_and_if_match(client, session, auth) -> None:
    _, _, prop = _propose(client, auth, session)
    pid = prop["placement_id"]
    op = auth("operator")
    r = client.get(f"{API}/placements/{pid}", headers=op)
    etag = r.headers["ETag"]
    assert (
        client.get(f"{API}/placements/{pid}", headers={**op, "If-None-Match": etag}).status_code
        == 304
    )
    r = client.post(f"{API}/placements/{pid}/accept", headers={**op, "If-Match": '"stale"'})
    assert r.status_code == 412
    r = client.post(f"{API}/placements/{pid}/accept", headers={**op, "If-Match": etag})
    assert r.status_code == 200 and r.headers["ETag"] != etag


def test_manual_placement(client, session, auth) -> None:
    women = make_shelter(session, men=False, rooms=[{"beds": 2}, {"beds": 1}])
    general = make_shelter(session, lat=50.40, rooms=[{"beds": 1}])
    man = make_request(session, members=[(40, "M")])
    woman = make_request(session, members=[(33, "F")])
    another = make_request(session, members=[(29, "F")])
    session.commit()
    op = auth("operator")
    url = f"{API}/requests/{man.id}/placements"
    # A man in a women's shelter: 422 naming the rule.
    r = client.post(url, json={"shelter_id": women.id, "room_ids": [women.rooms[1].id]}, headers=op)
    assert r.status_code == 422
    assert "does not take men" in r.json()["detail"] and r.json()["errors"]
    # A room of another shelter, an unknown room: 422 naming the field.
    r = client.post(
        url, json={"shelter_id": general.id, "room_ids": [women.rooms[0].id]}, headers=op
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["room_ids", 0]
    r = client.post(url, json={"shelter_id": general.id, "room_ids": ["room_nope"]}, headers=op)
    assert r.status_code == 422
    r = client.post(
        url, json={"shelter_id": general.id, "room_ids": [general.rooms[0].id]}, headers=op
    )
    assert r.status_code == 201, r.text
    placed = r.json()
    assert placed["status"] == "proposed" and placed["source"] == "manual"
    assert placed["expires_at"] and placed["km"] > 0
    # The same request again: not pending any more.
    r = client.post(
        url, json={"shelter_id": general.id, "room_ids": [general.rooms[0].id]}, headers=op
    )
    assert r.status_code == 409
    # Another request into the room just taken: 409.
    r = client.post(
        f"{API}/requests/{woman.id}/placements",
        json={"shelter_id": general.id, "room_ids": [general.rooms[0].id]},
        headers=op,
    )
    assert r.status_code == 409 and r.json()["room_ids"] == [general.rooms[0].id]
    r = client.post(
        f"{API}/requests/{woman.id}/placements",
        json={"shelter_id": women.id, "room_ids": [women.rooms[1].id]},
        headers={**op, "Idempotency-Key": "k-1"},
    )
    assert r.status_code == 201
    replay = client.post(
        f"{API}/requests/{woman.id}/placements",
        json={"shelter_id": women.id, "room_ids": [women.rooms[1].id]},
        headers={**op, "Idempotency-Key": "k-1"},
    )
    assert replay.status_code == 201 and replay.json()["id"] == r.json()["id"]
    assert (
        client.post(
            f"{API}/requests/req_nope/placements",
            json={"shelter_id": women.id, "room_ids": [women.rooms[0].id]},
            headers=op,
        ).status_code
        == 404
    )
    assert another.id
    assert check_live_placements() == []


def test_options(client, session, auth) -> None:
    near = make_shelter(session, rooms=[{"beds": 4}, {"beds": 2}])
    make_shelter(session, lat=50.5, rooms=[{"beds": 3}])
    make_shelter(session, women=False, rooms=[{"beds": 5}])
    make_shelter(session, lat=48.0, lon=2.0, rooms=[{"beds": 5}])
    req = make_request(session, members=[(30, "F"), (8, "M")], max_km=60)
    session.commit()
    r = client.get(f"{API}/requests/{req.id}/options", headers=auth("operator"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["options"][0]["shelter_id"] == near.id
    assert body["options"][0]["room_ids"] == [near.rooms[1].id]  # the 2-bed room: no waste
    assert body["options"][0]["km"] == 0.0
    assert len(body["options"]) == 2
    assert body["ruled_out"]["women"] == 1 and body["ruled_out"]["max_km"] == 1
    assert body["code"] is None
    assert client.get(f"{API}/requests/req_nope/options", headers=auth("admin")).status_code == 404


def test_latest_etag_polling(client, session, auth) -> None:
    shelter, req, prop = _propose(client, auth, session)
    viewer = auth("viewer")
    r = client.get(f"{API}/allocations/latest", headers=viewer)
    assert r.status_code == 200
    etag = r.headers["ETag"]
    body = r.json()
    assert body["proposals"][0]["people"] == 1
    assert req.reference not in r.text  # no personal detail for viewers
    for _ in range(3):
        r = client.get(f"{API}/allocations/latest", headers={**viewer, "If-None-Match": etag})
        assert r.status_code == 304 and r.headers["ETag"] == etag and r.content == b""
    # A placement of this run changes status: new ETag.
    client.post(f"{API}/placements/{prop['placement_id']}/accept", headers=auth("operator"))
    r = client.get(f"{API}/allocations/latest", headers={**viewer, "If-None-Match": etag})
    assert r.status_code == 200 and r.headers["ETag"] != etag
    assert r.json()["proposals"][0]["status"] == "accepted"
    etag2 = r.headers["ETag"]
    # A new run: new ETag.
    client.post(f"{API}/allocations", headers=auth("operator"))
    r = client.get(f"{API}/allocations/latest", headers={**viewer, "If-None-Match": etag2})
    assert r.status_code == 200 and r.headers["ETag"] != etag2
    assert shelter.id


def test_cancel_frees_the_beds(client, session, auth) -> None:
    shelter, req, prop = _propose(client, auth, session)
    r = client.post(f"{API}/requests/{req.id}/cancel", headers=auth("operator"))
    assert r.status_code == 200, r.text
    assert _status(session, Placement, prop["placement_id"]) == "declined"
    assert len(free_rooms(session, [shelter.id])) == 1
    session.commit()
