"""Tokens, roles and the shelter token's narrow view."""

from __future__ import annotations

from typing import Any


def test_no_token_and_bad_token_are_401(client: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer abri_nope"}, {"Authorization": "Basic x"}):
        r = client.get("/api/v1/shelters", headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")


def test_wrong_role_is_403(client: Any, auth: Any) -> None:
    for role in ("operator", "viewer"):
        r = client.post("/api/v1/shelters", json={}, headers=auth(role))
        assert r.status_code == 403, role
    r = client.get("/api/v1/requests", headers=auth("viewer"))
    assert r.status_code == 403
    r = client.get("/api/v1/tokens", headers=auth("operator"))
    assert r.status_code == 403


def test_shelter_token_sees_only_its_own(
    client: Any, auth: Any, new_shelter: Any, new_room: Any
) -> None:
    mine = new_shelter(name="Mine")
    other = new_shelter(name="Other")
    other_room = new_room(other["id"])
    headers = auth("shelter", shelter_id=mine["id"])
    listed = client.get("/api/v1/shelters", headers=headers).json()
    assert [s["id"] for s in listed] == [mine["id"]]
    assert client.get(f"/api/v1/shelters/{mine['id']}", headers=headers).status_code == 200
    for path in (
        f"/api/v1/shelters/{other['id']}",
        f"/api/v1/shelters/{other['id']}/rooms",
        f"/api/v1/rooms/{other_room['id']}",
    ):
        r = client.get(path, headers=headers)
        assert r.status_code == 404, path
    assert (
        client.patch(
            f"/api/v1/rooms/{other_room['id']}", json={"beds": 9}, headers=headers
        ).status_code
        == 404
    )
    r = client.put(f"/api/v1/shelters/{other['id']}/availability", json=[], headers=headers)
    assert r.status_code == 404
    r = client.post(
        f"/api/v1/shelters/{other['id']}/rooms", json={"label": "X", "beds": 1}, headers=headers
    )
    assert r.status_code == 404
    # Its own rooms it may add; requests and availability are not its business.
    r = client.post(
        f"/api/v1/shelters/{mine['id']}/rooms", json={"label": "X", "beds": 1}, headers=headers
    )
    assert r.status_code == 201
    assert client.get("/api/v1/requests", headers=headers).status_code == 403
    assert client.get("/api/v1/availability", headers=headers).status_code == 403


def test_tokens_create_list_revoke_and_me(client: Any, admin: Any, new_shelter: Any) -> None:
    shelter = new_shelter()
    r = client.post(
        "/api/v1/tokens",
        json={"role": "shelter", "name": "night staff", "shelter_id": shelter["id"]},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    token = created["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["role"] == "shelter" and me["shelter_id"] == shelter["id"]

    listed = client.get("/api/v1/tokens", headers=admin).json()
    assert created["id"] in {t["id"] for t in listed}
    assert all("token" not in t and "token_hash" not in t for t in listed)

    r = client.post(f"/api/v1/tokens/{created['id']}/revoke", headers=admin)
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.post("/api/v1/tokens/tok_nope/revoke", headers=admin).status_code == 404


def test_token_create_validation(client: Any, admin: Any) -> None:
    r = client.post("/api/v1/tokens", json={"role": "shelter", "name": "x"}, headers=admin)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["shelter_id"]
    r = client.post("/api/v1/tokens", json={"role": "root", "name": "x"}, headers=admin)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["role"]
