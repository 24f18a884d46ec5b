"""Amending a pending request: PATCH /api/v1/requests/{id} with If-Match."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.service.conftest import REQUEST


def _etag(client: Any, headers: dict[str, str], req: dict[str, Any]) -> str:
    return client.get(f"/api/v1/requests/{req['id']}", headers=headers).headers["etag"]


def _patch(client: Any, headers: dict[str, str], req: dict[str, Any], body: dict[str, Any],
           etag: str | None = None) -> Any:  # fmt: skip
    """PATCH with the request's current ETag (as a client reads it), or the one given."""
    tag = etag if etag is not None else _etag(client, headers, req)
    return client.patch(
        f"/api/v1/requests/{req['id']}", json=body, headers={**headers, "If-Match": tag}
    )


def test_amend_keeps_the_place_in_the_queue(client: Any, operator: Any, new_request: Any) -> None:
    first = new_request(reference="115-A", priority=3)
    second = new_request(reference="115-B", priority=3)
    body = {
        "members": [{"age": 34, "sex": "F"}, {"age": 9, "sex": "M"}, {"age": 2, "sex": "F"}],
        "needs": {"dv_specialised": True},
        "avoid": [{"lat": 50.35, "lon": 3.52, "km": 10}],
        "max_km": None,
    }
    r = _patch(client, operator, first, body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["id"] == first["id"] and got["waiting_since"] == first["waiting_since"]
    assert got["version"] == first["version"] + 1
    assert r.headers["etag"] == _etag(client, operator, first)
    assert len(got["members"]) == 3 and got["needs"]["dv_specialised"] is True
    assert got["avoid"] == [{"lat": 50.35, "lon": 3.52, "km": 10.0}] and got["max_km"] is None
    # Fields not sent are left alone.
    assert got["reference"] == "115-A" and got["origin"] == first["origin"]
    queue = client.get("/api/v1/requests", headers=operator).json()["items"]
    assert [q["id"] for q in queue] == [first["id"], second["id"]]


def test_stale_or_missing_if_match_changes_nothing(
    client: Any, operator: Any, new_request: Any
) -> None:
    req = new_request()
    first_read = _etag(client, operator, req)
    assert _patch(client, operator, req, {"priority": 4}).status_code == 200
    stale = _patch(client, operator, req, {"priority": 1}, etag=first_read)
    assert stale.status_code == 412
    assert stale.headers["etag"] == _etag(client, operator, req) != first_read
    missing = client.patch(
        f"/api/v1/requests/{req['id']}", json={"priority": 1}, headers=operator
    )
    assert missing.status_code == 428
    assert missing.headers["content-type"].startswith("application/problem+json")
    now = client.get(f"/api/v1/requests/{req['id']}", headers=operator).json()
    assert now["priority"] == 4 and now["version"] == 2


def test_only_pending_requests_are_amended(client: Any, operator: Any, new_request: Any) -> None:
    req = new_request()
    cancelled = client.post(f"/api/v1/requests/{req['id']}/cancel", headers=operator).json()
    r = _patch(client, operator, cancelled, {"priority": 4})
    assert r.status_code == 409
    assert "pending" in r.json()["detail"]


def test_bad_amendments_name_the_field(client: Any, operator: Any, new_request: Any) -> None:
    other = new_request(reference="115-O")
    req = new_request()
    r = _patch(client, operator, req, {"priority": None, "members": [{"age": 30, "sex": "X"}],
                                       "waiting_since": "2026-01-01T00:00:00+00:00"})  # fmt: skip
    assert r.status_code == 422
    locs = {tuple(e["loc"]) for e in r.json()["errors"]}
    assert {("priority",), ("members", 0, "sex"), ("waiting_since",)} <= locs
    # Checks on the whole household and against the database, as at creation.
    r = _patch(client, operator, req, {"members": [{"age": 12, "sex": "M"}],
                                       "excluded_shelters": ["shl_nope"]})  # fmt: skip
    assert {tuple(e["loc"]) for e in r.json()["errors"]} == {("members",), ("excluded_shelters", 0)}
    r = _patch(client, operator, req, {"keep_apart": [{"request_id": req["id"], "km": 5}]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["keep_apart", 0, "request_id"]
    ok = _patch(client, operator, req, {"keep_apart": [{"request_id": other["id"], "km": 5}]})
    assert ok.status_code == 200 and ok.json()["version"] == req["version"] + 1
    assert client.get(f"/api/v1/requests/{req['id']}", headers=operator).json()["members"] == (
        REQUEST["members"]
    )


def test_amend_is_for_operators_and_is_audited(
    client: Any, operator: Any, auth: Any, new_request: Any, new_shelter: Any
) -> None:
    from app.audit.models import AuditEvent
    from app.core.db import get_sessionmaker

    req = new_request()
    etag = _etag(client, operator, req)
    for headers in (auth("viewer"), auth("shelter", new_shelter()["id"])):
        assert _patch(client, headers, req, {"priority": 4}, etag=etag).status_code == 403
    assert _patch(client, operator, req, {"needs": {"pets": True}}).status_code == 200
    with get_sessionmaker()() as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.object_id == req["id"])))
    # One amendment (the refused tries changed nothing); reads are audited on their own.
    amends = [e for e in events if e.action == "request.amend"]
    assert len(amends) == 1 and amends[0].detail == {"fields": ["needs"]}
    assert amends[0].actor_role == "operator"
