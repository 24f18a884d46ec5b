"""A neighbour territory's placement in this territory's shelter blocks a capacity change
(its beds are held), but its id is that territory's: the 409 counts it, with its beds, and
names only the placements the caller may read."""

from __future__ import annotations

from typing import Any

import pytest

from tests.service.conftest import REQUEST


@pytest.fixture
def neighbour_hold(client: Any, national: dict[str, str], two_territories: Any) -> dict[str, Any]:
    """The Pas-de-Calais (62) lists the Nord (59) and places a household, by hand, in a new
    room of the Nord's shelter; the Nord places one of its own in another new room."""
    nord, pdc = two_territories
    etag = client.get("/api/v1/territories/62", headers=national).headers["etag"]
    r = client.put(
        "/api/v1/territories/62/neighbours",
        json={"neighbours": ["59"]},
        headers={**national, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    shelter = nord.shelter["id"]
    made: dict[str, Any] = {"nord": nord, "pdc": pdc}
    for side, label in ((pdc, "theirs"), (nord, "ours")):
        room = client.post(
            f"/api/v1/shelters/{shelter}/rooms", json={"label": label, "beds": 2},
            headers=nord.admin,
        ).json()  # fmt: skip
        req = client.post(
            "/api/v1/requests",
            json={**REQUEST, "reference": f"115-{side.code}-{label}",
                  "origin": {"lat": 50.357, "lon": 3.523}},
            headers=side.operator,
        ).json()  # fmt: skip
        placed = client.post(
            f"/api/v1/requests/{req['id']}/placements",
            json={"shelter_id": shelter, "room_ids": [room["id"]]},
            headers=side.operator,
        )
        assert placed.status_code == 201, placed.text
        made[label] = {"room": room, "request": req, "placement": placed.json()}
    return made


def _shrink(client: Any, room: dict[str, Any], headers: dict[str, str]) -> Any:
    etag = client.get(f"/api/v1/rooms/{room['id']}", headers=headers).headers["etag"]
    return client.patch(
        f"/api/v1/rooms/{room['id']}", json={"beds": 1}, headers={**headers, "If-Match": etag}
    )


def test_the_rooms_admin_is_told_how_many_beds_not_whose(client: Any, neighbour_hold: Any) -> None:
    nord = neighbour_hold["nord"]
    theirs = neighbour_hold["theirs"]
    secret = [theirs["placement"]["id"], theirs["request"]["id"]]
    # The Nord's admin cannot read the Pas-de-Calais' placement: the 409 does not name it.
    assert client.get(f"/api/v1/placements/{secret[0]}", headers=nord.admin).status_code == 404
    r = _shrink(client, theirs["room"], nord.admin)
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["placement_ids"] == [] and body["other_territory_placements"] == 1
    assert body["room_ids"] == [theirs["room"]["id"]]
    assert "2 bed(s)" in body["errors"][0]["msg"]
    assert "neighbouring territory" in body["detail"]
    for leaked in secret:
        assert leaked not in r.text

    # Its own territory's placement, in the same change (availability): named as before.
    ours = neighbour_hold["ours"]
    shelter = nord.shelter["id"]
    r = client.put(
        f"/api/v1/shelters/{shelter}/availability",
        json=[
            {"room_id": theirs["room"]["id"], "occupied_beds": 0, "out_of_service": True},
            {"room_id": ours["room"]["id"], "occupied_beds": 0, "out_of_service": True},
        ],
        headers=nord.admin,
    )
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["placement_ids"] == [ours["placement"]["id"]]
    assert body["other_territory_placements"] == 1
    for leaked in secret:
        assert leaked not in r.text


def test_the_shelters_staff_see_every_placement_into_it(client: Any, neighbour_hold: Any) -> None:
    """Its staff read the neighbour's placement anyway (it is coming to them): named."""
    nord, theirs = neighbour_hold["nord"], neighbour_hold["theirs"]
    pid = theirs["placement"]["id"]
    assert client.get(f"/api/v1/placements/{pid}", headers=nord.shelter_staff).status_code == 200
    r = _shrink(client, theirs["room"], nord.shelter_staff)
    assert r.status_code == 409, r.text
    assert r.json()["placement_ids"] == [pid]
    assert r.json()["other_territory_placements"] == 0
    assert theirs["request"]["id"] not in r.text  # a placement's id, never its household's
