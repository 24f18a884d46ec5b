"""Placement requests: create, validate, list, cancel; idempotent creation."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from tests.service.conftest import REQUEST


def _count_requests() -> int:
    from app.core.db import get_sessionmaker
    from app.requests.models import PlacementRequest

    with get_sessionmaker()() as s:
        return s.scalar(select(func.count()).select_from(PlacementRequest)) or 0


def test_create_and_read(client: Any, operator: Any, new_shelter: Any, new_request: Any) -> None:
    s = new_shelter()
    first = new_request(reference="115-A")
    body = {
        **REQUEST,
        "reference": "115-B",
        "priority": 4,
        "needs": {"dv_specialised": True, "language": "ar"},
        "avoid": [{"lat": 50.33, "lon": 3.40, "km": 15}],
        "excluded_shelters": [s["id"]],
        "keep_apart": [{"request_id": first["id"], "km": 25}],
    }
    r = client.post("/api/v1/requests", json=body, headers=operator)
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["status"] == "pending" and req["waiting_since"] and req["id"].startswith("req_")
    assert req["keep_apart"] == [{"request_id": first["id"], "km": 25.0}]
    assert req["needs"]["language"] == "ar" and req["unplaced_code"] is None
    assert r.headers["etag"] == f'"{req["id"]}-v1"'
    got = client.get(f"/api/v1/requests/{req['id']}", headers=operator)
    assert got.json() == req and got.headers["etag"] == r.headers["etag"]
    assert "name" not in req


def test_validation_names_each_bad_field_and_creates_nothing(client: Any, operator: Any) -> None:
    body = {
        **REQUEST,
        "priority": 5,
        "origin": {"lat": 91, "lon": 3.4},
        "members": [{"age": 30, "sex": "X"}],
        "needs": {"wheelchiar": True},
        "avoid": [{"lat": 50.3, "lon": 3.4, "km": 0}],
    }
    r = client.post("/api/v1/requests", json=body, headers=operator)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    locs = {tuple(e["loc"]) for e in r.json()["errors"]}
    assert {
        ("priority",),
        ("origin", "lat"),
        ("members", 0, "sex"),
        ("needs", "wheelchiar"),
        ("avoid", 0, "km"),
    } <= locs
    r = client.post(
        "/api/v1/requests",
        json={
            **REQUEST,
            "members": [{"age": 15, "sex": "M"}],
            "excluded_shelters": ["shl_nope"],
            "keep_apart": [{"request_id": "req_nope", "km": 10}],
        },
        headers=operator,
    )
    assert r.status_code == 422
    locs = {tuple(e["loc"]) for e in r.json()["errors"]}
    assert locs == {("members",), ("excluded_shelters", 0), ("keep_apart", 0, "request_id")}
    r = client.post("/api/v1/requests", json={**REQUEST, "members": []}, headers=operator)
    assert r.status_code == 422
    assert _count_requests() == 0


def test_list_filters_and_pages(client: Any, operator: Any, new_request: Any) -> None:
    low = new_request(reference="L", priority=1)
    high = new_request(reference="H", priority=4)
    mid = new_request(reference="M", priority=2)
    client.post(f"/api/v1/requests/{mid['id']}/cancel", headers=operator)
    page = client.get("/api/v1/requests", headers=operator).json()
    assert [x["id"] for x in page["items"]] == [high["id"], mid["id"], low["id"]]
    page = client.get("/api/v1/requests?status=pending&limit=1", headers=operator).json()
    assert page["total"] == 2 and [x["id"] for x in page["items"]] == [high["id"]]
    page = client.get("/api/v1/requests?status=pending&limit=1&offset=1", headers=operator).json()
    assert [x["id"] for x in page["items"]] == [low["id"]]
    page = client.get("/api/v1/requests?status=cancelled", headers=operator).json()
    assert [x["id"] for x in page["items"]] == [mid["id"]]
    assert client.get("/api/v1/requests?status=lost", headers=operator).status_code == 422


def test_idempotent_create(client: Any, operator: Any) -> None:
    headers = {**operator, "Idempotency-Key": "k-1"}
    first = client.post("/api/v1/requests", json=REQUEST, headers=headers)
    again = client.post("/api/v1/requests", json=REQUEST, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert _count_requests() == 1
    other = client.post("/api/v1/requests", json={**REQUEST, "priority": 1}, headers=headers)
    assert other.status_code == 422
    assert _count_requests() == 1


def test_idempotency_key_is_scoped_to_the_token(client: Any, auth: Any) -> None:
    a, b = auth("operator"), auth("operator")
    client.post("/api/v1/requests", json=REQUEST, headers={**a, "Idempotency-Key": "same"})
    client.post("/api/v1/requests", json=REQUEST, headers={**b, "Idempotency-Key": "same"})
    assert _count_requests() == 2


def test_concurrent_retries_create_one_request(client: Any, operator: Any) -> None:
    headers = {**operator, "Idempotency-Key": "concurrent-1"}
    results: list[Any] = []
    barrier = threading.Barrier(6)

    def post() -> None:
        barrier.wait()
        results.append(client.post("/api/v1/requests", json=REQUEST, headers=headers))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    assert _count_requests() == 1


def test_cancel_releases_live_placement(
    client: Any, operator: Any, new_shelter: Any, new_room: Any, new_request: Any
) -> None:
    from app.core.db import get_sessionmaker
    from app.placements.models import Placement, PlacementRoom
    from app.requests.models import PlacementRequest

    s = new_shelter()
    room = new_room(s["id"], beds=2)
    req = new_request()
    with get_sessionmaker()() as db:
        placement = Placement(
            territory_id="ter_59", request_id=req["id"], shelter_id=s["id"], km=3.0
        )
        placement.rooms.append(PlacementRoom(room_id=room["id"], shared=False, beds=2))
        db.add(placement)
        db.get(PlacementRequest, req["id"]).status = "proposed"
        db.commit()
        placement_id = placement.id
    assert client.get(f"/api/v1/rooms/{room['id']}", headers=operator).json()["free_beds"] == 0

    r = client.post(f"/api/v1/requests/{req['id']}/cancel", headers=operator)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["closed_at"] and r.json()["version"] == 2
    with get_sessionmaker()() as db:
        p = db.get(Placement, placement_id)
        assert p.status == "declined" and p.decline_reason == "request cancelled"
        assert all(not pr.active for pr in p.rooms)
    assert client.get(f"/api/v1/rooms/{room['id']}", headers=operator).json()["free_beds"] == 2
    # Cancelled is final.
    r = client.post(f"/api/v1/requests/{req['id']}/cancel", headers=operator)
    assert r.status_code == 409
    assert client.post("/api/v1/requests/req_nope/cancel", headers=operator).status_code == 404


def test_cancel_honours_if_match(client: Any, operator: Any, new_request: Any) -> None:
    req = new_request()
    r = client.post(
        f"/api/v1/requests/{req['id']}/cancel", headers={**operator, "If-Match": '"stale-9"'}
    )
    assert r.status_code == 412
    assert client.get(f"/api/v1/requests/{req['id']}", headers=operator).json()["status"] == (
        "pending"
    )


def test_reference_is_a_case_number_not_a_name(client: Any, operator: Any) -> None:
    r = client.post(
        "/api/v1/requests", json={**REQUEST, "reference": "Marie Dupont"}, headers=operator
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["reference"]


def test_bad_idempotency_key_is_422(client: Any, operator: Any) -> None:
    r = client.post(
        "/api/v1/requests", json=REQUEST, headers={**operator, "Idempotency-Key": "k" * 201}
    )
    assert r.status_code == 422
    assert _count_requests() == 0


def test_writes_are_audited_without_personal_detail(
    client: Any, operator: Any, new_request: Any
) -> None:
    from app.audit.models import AuditEvent
    from app.core.db import get_sessionmaker

    req = new_request()
    client.post(f"/api/v1/requests/{req['id']}/cancel", headers=operator)
    with get_sessionmaker()() as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.object_id == req["id"])))
    assert [e.action for e in events] == ["request.create", "request.cancel"]
    assert events[0].actor_role == "operator"
    assert "members" not in events[0].detail and "origin" not in events[0].detail
