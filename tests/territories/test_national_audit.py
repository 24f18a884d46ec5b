"""A national admin belongs to no territory: what it does to a territory's objects is in
that territory's audit log (where its admin reads it), named territory or not, and a list
it read across territories is split, each log holding its own ids only."""

from __future__ import annotations

from typing import Any


def _log(client: Any, admin: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/audit", params={"limit": 500, **params}, headers=admin)
    assert r.status_code == 200, r.text
    return [e for e in r.json()["items"] if e["actor_name"] == "national admin"]


def _patch_shelter(
    client: Any, national: dict[str, str], shelter_id: str, body: dict[str, Any], **params: Any
) -> None:
    etag = client.get(f"/api/v1/shelters/{shelter_id}", headers=national).headers["etag"]
    r = client.patch(
        f"/api/v1/shelters/{shelter_id}",
        params=params,
        json=body,
        headers={**national, "If-Match": etag},
    )
    assert r.status_code == 200, r.text


def test_a_national_change_is_in_the_log_of_the_territory_acted_upon(
    client: Any, national: dict[str, str], two_territories: Any
) -> None:
    nord, pdc = two_territories
    shelter = pdc.shelter["id"]
    _patch_shelter(client, national, shelter, {"pets": True}, territory="62")
    _patch_shelter(client, national, shelter, {"pets": False})  # naming no territory
    theirs = _log(client, pdc.admin, action="shelter.update", object_id=shelter)
    assert len(theirs) == 2
    assert _log(client, nord.admin, action="shelter.update") == []

    # A read of a Nord household's request, without ?territory: the Nord's log.
    req = nord.request["id"]
    assert client.get(f"/api/v1/requests/{req}", headers=national).status_code == 200
    assert [e["object_id"] for e in _log(client, nord.admin, action="request.read")] == [req]
    assert _log(client, pdc.admin, action="request.read") == []


def test_a_list_across_territories_is_split_by_territory(
    client: Any, national: dict[str, str], two_territories: Any
) -> None:
    nord, pdc = two_territories
    r = client.get("/api/v1/requests", headers=national)  # every territory's
    assert r.status_code == 200
    assert {i["id"] for i in r.json()["items"]} == {nord.request["id"], pdc.request["id"]}
    for side in (nord, pdc):
        [event] = _log(client, side.admin, action="request.list")
        assert event["detail"]["ids"] == [side.request["id"]]


def test_a_national_act_on_a_territory_token_is_in_its_log(
    client: Any, national: dict[str, str], two_territories: Any
) -> None:
    nord, pdc = two_territories
    r = client.post(
        "/api/v1/tokens", json={"role": "viewer", "name": "wall", "territory": "62"},
        headers=national,
    )  # fmt: skip
    assert r.status_code == 201
    token_id = r.json()["id"]
    r = client.post(f"/api/v1/tokens/{token_id}/revoke", headers=national)
    assert r.status_code == 200
    assert {e["action"] for e in _log(client, pdc.admin, object_id=token_id)} == {
        "token.create", "token.revoke",
    }  # fmt: skip
    assert _log(client, nord.admin, object_id=token_id) == []
