"""Shelters and rooms: CRUD, validation, ETags, If-Match, confidentiality."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.service.conftest import SHELTER


def _audit_actions(object_id: str) -> list[str]:
    from app.audit.models import AuditEvent
    from app.core.db import get_sessionmaker

    with get_sessionmaker()() as s:
        return list(
            s.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.object_id == object_id)
                .order_by(AuditEvent.id)
            )
        )


def test_create_read_and_patch_shelter(client: Any, admin: Any, new_shelter: Any) -> None:
    s = new_shelter(languages=["fr", "ar"], max_boy_age=14)
    assert s["version"] == 1 and s["languages"] == ["fr", "ar"] and s["max_boy_age"] == 14
    r = client.get(f"/api/v1/shelters/{s['id']}", headers=admin)
    assert r.status_code == 200 and r.headers["etag"] == f'"{s["id"]}-v1"'
    assert (
        client.get(
            f"/api/v1/shelters/{s['id']}", headers={**admin, "If-None-Match": r.headers["etag"]}
        ).status_code
        == 304
    )
    path = f"/api/v1/shelters/{s['id']}"
    # If-Match is required: without it, 428 and nothing changes.
    r = client.patch(path, json={"pets": True}, headers=admin)
    assert r.status_code == 428 and r.headers["content-type"].startswith("application/problem")
    assert client.get(path, headers=admin).json()["pets"] is False
    r = client.patch(
        path, json={"pets": True}, headers={**admin, "If-Match": '"' + s["id"] + '-v1"'}
    )
    assert r.status_code == 200 and r.json()["pets"] is True and r.json()["version"] == 2
    assert _audit_actions(s["id"]) == ["shelter.create", "shelter.update"]


def test_shelter_validation_names_every_field(client: Any, admin: Any) -> None:
    bad = {
        **SHELTER,
        "lat": 95,
        "lon": -200,
        "kind": "castle",
        "max_boy_age": 18,
        "languages": ["French"],
        "colour": "blue",
    }
    r = client.post("/api/v1/shelters", json=bad, headers=admin)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    locs = {tuple(e["loc"]) for e in r.json()["errors"]}
    assert {("lat",), ("lon",), ("kind",), ("max_boy_age",), ("languages", 0), ("colour",)} <= locs
    assert client.get("/api/v1/shelters", headers=admin).json() == []


def test_shelter_staff_may_patch_only_contact_fields(
    client: Any, auth: Any, new_shelter: Any
) -> None:
    s = new_shelter()
    staff = auth("shelter", shelter_id=s["id"])
    r = client.patch(
        f"/api/v1/shelters/{s['id']}",
        json={"intake_phone": "03 53 01 99 99", "languages": ["fr", "en"]},
        headers={**staff, "If-Match": "*"},
    )
    assert r.status_code == 200, r.text
    r = client.patch(f"/api/v1/shelters/{s['id']}", json={"men": False}, headers=staff)
    assert r.status_code == 403
    r = client.patch(f"/api/v1/shelters/{s['id']}", json={"men": False}, headers=auth("operator"))
    assert r.status_code == 403


def test_rooms_crud_etag_and_if_match(client: Any, admin: Any, new_shelter: Any) -> None:
    s = new_shelter()
    r = client.post(
        f"/api/v1/shelters/{s['id']}/rooms",
        json={"label": "F1", "beds": 4, "cribs": 1, "wheelchair": True},
        headers=admin,
    )
    assert r.status_code == 201
    room = r.json()
    assert room["free_beds"] == 4 and room["version"] == 1
    listed = client.get(f"/api/v1/shelters/{s['id']}/rooms", headers=admin).json()
    assert [x["id"] for x in listed] == [room["id"]]

    r = client.get(f"/api/v1/rooms/{room['id']}", headers=admin)
    etag = r.headers["etag"]
    r = client.patch(
        f"/api/v1/rooms/{room['id']}",
        json={"occupied_beds": 2},
        headers={**admin, "If-Match": etag},
    )
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["free_beds"] == 0
    new_etag = r.headers["etag"]
    assert new_etag != etag
    # Stale copy: 412, and nothing changes.
    r = client.patch(
        f"/api/v1/rooms/{room['id']}", json={"beds": 9}, headers={**admin, "If-Match": etag}
    )
    assert r.status_code == 412
    assert r.headers["content-type"].startswith("application/problem+json")
    again = client.get(f"/api/v1/rooms/{room['id']}", headers=admin).json()
    assert again["beds"] == 4 and again["version"] == 2
    # occupied_beds may not exceed beds (after the merge).
    r = client.patch(f"/api/v1/rooms/{room['id']}", json={"beds": 1}, headers=admin)
    assert r.status_code == 428 and r.headers["content-type"].startswith("application/problem")
    r = client.patch(
        f"/api/v1/rooms/{room['id']}", json={"beds": 1}, headers={**admin, "If-Match": new_etag}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["occupied_beds"]
    # Duplicate label: 409.
    r = client.post(
        f"/api/v1/shelters/{s['id']}/rooms", json={"label": "F1", "beds": 1}, headers=admin
    )
    assert r.status_code == 409


def test_room_validation(client: Any, admin: Any, new_shelter: Any) -> None:
    s = new_shelter()
    path = f"/api/v1/shelters/{s['id']}/rooms"
    r = client.post(path, json={"label": "D1", "beds": 6, "shared": True}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["sex"]
    r = client.post(path, json={"label": "D1", "beds": -1, "cribs": -2}, headers=admin)
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json()["errors"]} == {("beds",), ("cribs",)}
    r = client.post(
        path, json={"label": "D1", "beds": 6, "shared": True, "sex": "F"}, headers=admin
    )
    assert r.status_code == 201
    assert client.get(path, headers=admin).json()[0]["sex"] == "F"


def test_other_roles_cannot_change_rooms(
    client: Any, auth: Any, new_shelter: Any, new_room: Any
) -> None:
    s = new_shelter()
    room = new_room(s["id"])
    for role in ("operator", "viewer"):
        r = client.patch(f"/api/v1/rooms/{room['id']}", json={"beds": 3}, headers=auth(role))
        assert r.status_code == 403
        # Reading is fine for them.
        assert client.get(f"/api/v1/rooms/{room['id']}", headers=auth(role)).status_code == 200


def test_confidential_shelter_is_masked_for_others(
    client: Any, auth: Any, new_shelter: Any
) -> None:
    s = new_shelter(
        name="Refuge",
        kind="dv_shelter",
        confidential=True,
        lat=50.3712,
        lon=3.5049,
        address="3 impasse Secrète",
        commune="Anzin",
    )
    assert s["address"] == "3 impasse Secrète"  # the creating admin sees it
    for role in ("operator", "viewer"):
        for body in (
            client.get(f"/api/v1/shelters/{s['id']}", headers=auth(role)).json(),
            client.get("/api/v1/shelters", headers=auth(role)).json()[0],
        ):
            assert body["address"] is None
            assert body["location_precision"] == "approximate"
            assert (body["lat"], body["lon"]) == (50.35, 3.5)
            assert body["commune"] == "Anzin" and body["intake_phone"]
    before = _audit_actions(s["id"]).count("shelter.confidential_read")
    assert before == 0
    for headers in (auth("admin"), auth("shelter", shelter_id=s["id"])):
        body = client.get(f"/api/v1/shelters/{s['id']}", headers=headers).json()
        assert body["address"] == "3 impasse Secrète" and body["lat"] == 50.3712
    assert _audit_actions(s["id"]).count("shelter.confidential_read") == 2
    avail = client.get("/api/v1/availability", headers=auth("admin")).json()
    assert avail["shelters"][0]["lat"] == 50.35


def test_openapi_is_served(client: Any) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for p in (
        "/api/v1/shelters",
        "/api/v1/shelters/{shelter_id}/availability",
        "/api/v1/availability",
        "/api/v1/requests/{request_id}/cancel",
        "/api/v1/tokens",
    ):
        assert p in paths


def test_shelter_if_match_and_nulls(client: Any, admin: Any, new_shelter: Any) -> None:
    s = new_shelter()
    path = f"/api/v1/shelters/{s['id']}"
    r = client.patch(path, json={"secure": True}, headers={**admin, "If-Match": '"nope-1"'})
    assert r.status_code == 412
    assert client.get(path, headers=admin).json()["secure"] is False
    r = client.patch(path, json={"name": None, "lat": None}, headers={**admin, "If-Match": "*"})
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json()["errors"]} == {("name",), ("lat",)}
    # Nullable ones may be cleared; the same values again change nothing (no version bump).
    r = client.patch(path, json={"max_boy_age": None}, headers={**admin, "If-Match": '"x", *'})
    assert r.status_code == 200 and r.json()["version"] == 1
    r = client.patch(path, json={"intake_phone": None}, headers={**admin, "If-Match": "*"})
    assert r.json()["intake_phone"] is None and r.json()["version"] == 2
    assert (
        client.patch("/api/v1/shelters/shl_nope", json={"pets": True}, headers=admin).status_code
        == 404
    )


def test_concurrent_updates_with_one_etag_one_wins(
    client: Any, admin: Any, new_shelter: Any, new_room: Any
) -> None:
    import threading

    s = new_shelter()
    room = new_room(s["id"], beds=4)
    etag = client.get(f"/api/v1/rooms/{room['id']}", headers=admin).headers["etag"]
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def patch(beds: int) -> None:
        barrier.wait()
        r = client.patch(
            f"/api/v1/rooms/{room['id']}", json={"beds": beds}, headers={**admin, "If-Match": etag}
        )
        codes.append(r.status_code)

    threads = [threading.Thread(target=patch, args=(5 + i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 412, 412, 412]
    assert client.get(f"/api/v1/rooms/{room['id']}", headers=admin).json()["version"] == 2
