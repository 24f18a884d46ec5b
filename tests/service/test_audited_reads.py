"""Reads of sensitive data and refused attempts are in the audit log, 304s included."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.core.db import get_sessionmaker


def _events(action: str) -> list[AuditEvent]:
    with get_sessionmaker()() as s:
        return list(
            s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        )


def _placed(client: Any, admin: Any, operator: Any, new_shelter: Any, new_room: Any, req: Any):
    shelter = new_shelter()
    room = new_room(shelter["id"])
    r = client.post(
        f"/api/v1/requests/{req['id']}/placements",
        json={"shelter_id": shelter["id"], "room_ids": [room["id"]]},
        headers=operator,
    )
    assert r.status_code == 201, r.text
    return shelter, r.json()


def test_reading_a_request_is_audited_304_too(client: Any, operator: Any, new_request: Any) -> None:
    req = new_request()
    url = f"/api/v1/requests/{req['id']}"
    first = client.get(url, headers=operator)
    again = client.get(url, headers={**operator, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    reads = _events("request.read")
    assert [(e.object_id, e.detail) for e in reads] == [
        (req["id"], {"status": 200}),
        (req["id"], {"status": 304}),
    ]
    assert reads[0].actor_role == "operator" and reads[0].actor_token_id


def test_listing_requests_names_every_request_read(
    client: Any, operator: Any, new_request: Any
) -> None:
    ids = {new_request()["id"], new_request(reference="115-2026-000002")["id"]}
    assert client.get("/api/v1/requests", headers=operator).status_code == 200
    (listed,) = _events("request.list")
    assert set(listed.detail["ids"]) == ids


def test_options_reads_are_audited(client: Any, operator: Any, new_request: Any) -> None:
    req = new_request()
    assert client.get(f"/api/v1/requests/{req['id']}/options", headers=operator).status_code == 200
    (read,) = _events("request.options")
    assert read.object_id == req["id"] and read.detail == {"options": 0}


def test_shelter_staff_reading_a_placement_is_audited(
    client: Any, auth: Any, admin: Any, operator: Any, new_shelter: Any, new_room: Any,
    new_request: Any,
) -> None:  # fmt: skip
    shelter, placement = _placed(client, admin, operator, new_shelter, new_room, new_request())
    staff = auth("shelter", shelter["id"])
    url = f"/api/v1/placements/{placement['id']}"
    assert client.get(url, headers=operator).status_code == 200  # the request's read covers it
    first = client.get(url, headers=staff)
    assert (
        client.get(url, headers={**staff, "If-None-Match": first.headers["ETag"]}).status_code
        == 304
    )
    assert client.get("/api/v1/placements", headers=staff).json()["total"] == 1
    reads = _events("placement.read")
    assert [(e.actor_role, e.object_id, e.detail["status"]) for e in reads] == [
        ("shelter", placement["id"], 200),
        ("shelter", placement["id"], 304),
    ]
    (listed,) = _events("placement.list")
    assert listed.detail == {"shelter_id": shelter["id"], "ids": [placement["id"]]}


def test_confidential_reads_answered_304_are_audited(
    client: Any, admin: Any, new_shelter: Any
) -> None:
    shelter = new_shelter(confidential=True)
    url = f"/api/v1/shelters/{shelter['id']}"
    first = client.get(url, headers=admin)
    assert (
        client.get(url, headers={**admin, "If-None-Match": first.headers["ETag"]}).status_code
        == 304
    )
    reads = _events("shelter.confidential_read")
    assert [e.detail for e in reads] == [None, {"status": 304}]


def test_refused_attempts_are_audited_and_counted_per_token(
    client: Any, auth: Any, admin: Any, operator: Any, make_token: Any, new_shelter: Any,
    new_room: Any, new_request: Any,
) -> None:  # fmt: skip
    mine, placement = _placed(client, admin, operator, new_shelter, new_room, new_request())
    other = new_shelter(name="CHRS Les Glycines")
    prober = make_token("shelter", shelter_id=other["id"], name="prober")
    headers = {"Authorization": f"Bearer {prober}"}
    assert client.get(f"/api/v1/shelters/{mine['id']}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/placements/{placement['id']}", headers=headers).status_code == 404
    assert client.post("/api/v1/requests", json={}, headers=headers).status_code == 403
    viewer = auth("viewer")
    assert client.get("/api/v1/audit", headers=viewer).status_code == 403
    # Not refusals: an unknown id, and the shelter's own objects.
    assert client.get("/api/v1/placements/plc_nope", headers=operator).status_code == 404
    assert client.get(f"/api/v1/shelters/{other['id']}", headers=headers).status_code == 200

    refused = _events("access.refused")
    assert [(e.actor_name, e.object_type, e.object_id, e.detail["status"]) for e in refused] == [
        ("prober", "shelter", mine["id"], 404),
        ("prober", "placement", placement["id"], 404),
        ("prober", "endpoint", None, 403),
        ("test viewer", "endpoint", None, 403),
    ]
    assert refused[1].detail["route"] == "/placements/{placement_id}"  # the router's template
    counts = {
        t["name"]: t["refused_attempts"] for t in client.get("/api/v1/tokens", headers=admin).json()
    }
    assert counts["prober"] == 3 and counts["test viewer"] == 1 and counts["test admin"] == 0
