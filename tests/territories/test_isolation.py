"""Two territories on one deployment see nothing of each other: another territory's object
answers exactly as a missing one (404, same body), lists and totals leave it out, and no
count, document or export carries its data. Every endpoint family, each role."""

from __future__ import annotations

from typing import Any

import pytest

MISSING = "zz_missing_0000"


def _same_as_missing(
    client: Any, method: str, path: str, obj: str, headers: dict, **kw: Any
) -> None:
    """``path`` with another territory's ``obj`` answers byte for byte as with an unknown id."""
    theirs = client.request(method, path.format(obj), headers=headers, **kw)
    missing = client.request(method, path.format(MISSING), headers=headers, **kw)
    assert theirs.status_code == missing.status_code == 404, (path, theirs.text)
    assert theirs.json() == missing.json(), path


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {i["id"] for i in items}


def test_objects_of_another_territory_are_404_like_missing_ones(client, two_territories) -> None:
    nord, pdc = two_territories
    for me, other in ((nord, pdc), (pdc, nord)):
        shelter, room, req = other.shelter["id"], other.room["id"], other.request["id"]
        placement = other.run["proposals"][0]["placement_id"]
        for headers in (me.admin, me.operator):
            _same_as_missing(client, "GET", "/api/v1/shelters/{}", shelter, headers)
            _same_as_missing(client, "GET", "/api/v1/shelters/{}/rooms", shelter, headers)
            _same_as_missing(client, "GET", "/api/v1/rooms/{}", room, headers)
            _same_as_missing(client, "GET", "/api/v1/requests/{}", req, headers)
            _same_as_missing(client, "GET", "/api/v1/requests/{}/options", req, headers)
            _same_as_missing(client, "POST", "/api/v1/requests/{}/cancel", req, headers)
            _same_as_missing(
                client, "POST", "/api/v1/requests/{}/placements", req, headers,
                json={"shelter_id": me.shelter["id"], "room_ids": [me.room["id"]]},
            )  # fmt: skip
            _same_as_missing(client, "GET", "/api/v1/allocations/{}", other.run["id"], headers)
            _same_as_missing(client, "GET", "/api/v1/placements/{}", placement, headers)
            _same_as_missing(client, "POST", "/api/v1/placements/{}/accept", placement, headers)
            _same_as_missing(
                client, "POST", "/api/v1/placements/{}/decline", placement, headers,
                json={"reason": "no"},
            )  # fmt: skip
        _same_as_missing(client, "GET", "/api/v1/allocations/{}", other.run["id"], me.viewer)
        # Writes by the admin: as if the shelter and room did not exist.
        for method, path, body in (
            ("PATCH", "/api/v1/shelters/{}", {"name": "taken over"}),
            ("POST", "/api/v1/shelters/{}/rooms", {"label": "X", "beds": 1}),
            ("PATCH", "/api/v1/rooms/{}", {"beds": 9}),
            ("PUT", "/api/v1/shelters/{}/availability", []),
        ):
            obj = room if path.startswith("/api/v1/rooms") else shelter
            headers = {**me.admin, "If-Match": '"x-v1"'}
            _same_as_missing(client, method, path, obj, headers, json=body)
        # A shelter's staff: the other territory's shelter and placements are not theirs.
        _same_as_missing(client, "GET", "/api/v1/shelters/{}", shelter, me.shelter_staff)
        _same_as_missing(client, "GET", "/api/v1/placements/{}", placement, me.shelter_staff)
        _same_as_missing(
            client, "POST", "/api/v1/placements/{}/arrive", placement, me.shelter_staff
        )
    # Nothing changed on the other side.
    r = client.get(f"/api/v1/requests/{pdc.request['id']}", headers=pdc.operator)
    assert r.json()["status"] == "proposed"


def test_lists_and_totals_leave_the_other_territory_out(client, two_territories) -> None:
    nord, pdc = two_territories
    for me, other in ((nord, pdc), (pdc, nord)):
        shelters = client.get("/api/v1/shelters", headers=me.operator).json()
        assert _ids(shelters) == {me.shelter["id"]}
        availability = client.get("/api/v1/availability", headers=me.viewer).json()
        assert other.shelter["id"] not in str(availability)
        assert me.shelter["id"] in str(availability)
        requests = client.get("/api/v1/requests", headers=me.operator).json()
        assert _ids(requests["items"]) == {me.request["id"]} and requests["total"] == 1
        runs = client.get("/api/v1/allocations", headers=me.viewer).json()
        assert _ids(runs["items"]) == {me.run["id"]} and runs["total"] == 1
        latest = client.get("/api/v1/allocations/latest", headers=me.viewer).json()
        assert latest["id"] == me.run["id"]
        placements = client.get("/api/v1/placements", headers=me.operator).json()
        assert {p["request_id"] for p in placements["items"]} == {me.request["id"]}
        assert placements["total"] == 1
        staff = client.get("/api/v1/placements", headers=me.shelter_staff).json()
        assert {p["shelter_id"] for p in staff["items"]} == {me.shelter["id"]}
        tokens = client.get("/api/v1/tokens", headers=me.admin).json()
        assert {t["territory"] for t in tokens} == {me.code}
        events = client.get("/api/v1/audit", params={"limit": 500}, headers=me.admin).json()
        objects = {e["object_id"] for e in events["items"]}
        assert me.request["id"] in objects
        assert not objects & {other.request["id"], other.shelter["id"], other.run["id"]}
        services = client.get("/api/v1/hsds/services", headers=me.viewer).json()
        assert f"CHU {other.shelter['commune']}" not in str(services)
        assert f"CHU {me.shelter['commune']}" in str(services)
        territories = client.get("/api/v1/territories", headers=me.viewer).json()
        assert [t["code"] for t in territories] == [me.code]
        _same_as_missing(client, "GET", "/api/v1/territories/{}", other.code, me.admin)


def test_the_dashboard_counts_its_own_territory_only(client, two_territories) -> None:
    nord, pdc = two_territories
    # One more household waiting in the Pas-de-Calais only.
    from tests.service.conftest import REQUEST

    r = client.post(
        "/api/v1/requests", json={**REQUEST, "reference": "115-62-2"}, headers=pdc.operator
    )
    assert r.status_code == 201
    mine = client.get("/api/v1/dashboard/summary", headers=nord.operator).json()
    theirs = client.get("/api/v1/dashboard/summary", headers=pdc.operator).json()
    assert sum(p["requests"] for p in mine["waiting"]["by_priority"]) == 0
    assert sum(p["requests"] for p in theirs["waiting"]["by_priority"]) == 1
    assert mine["latest_run"]["id"] == nord.run["id"]
    assert "Arras" not in str(mine) and "Valenciennes" not in str(theirs)


def test_a_territory_token_may_not_name_another_territory(client, two_territories) -> None:
    nord, _ = two_territories
    for code in ("62", "75"):  # existing or not: the same 403, nothing learnt
        r = client.get("/api/v1/shelters", params={"territory": code}, headers=nord.operator)
        assert r.status_code == 403
        assert "another" in r.json()["detail"]
    assert (
        client.get(
            "/api/v1/shelters", params={"territory": "59"}, headers=nord.operator
        ).status_code
        == 200
    )


def test_a_national_admin_acts_on_the_territory_it_names(client, national, two_territories) -> None:
    _, pdc = two_territories
    r = client.get("/api/v1/shelters", params={"territory": "62"}, headers=national)
    assert _ids(r.json()) == {pdc.shelter["id"]}
    r = client.post("/api/v1/allocations", headers=national)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "territory"]
    r = client.get("/api/v1/shelters", params={"territory": "974"}, headers=national)
    assert r.status_code == 422
    me = client.get("/api/v1/me", params={"territory": "62"}, headers=national).json()
    assert me["territory"] == "62" and me["national"] is True


@pytest.mark.parametrize("role", ["admin", "operator", "viewer"])
def test_only_a_national_admin_manages_territories(client, two_territories, role) -> None:
    nord, _ = two_territories
    headers: dict[str, str] = getattr(nord, role)
    r = client.post("/api/v1/territories", json={"code": "80", "name": "Somme"}, headers=headers)
    assert r.status_code == 403
    r = client.put(
        "/api/v1/territories/59/neighbours", json={"neighbours": ["62"]}, headers=headers
    )
    assert r.status_code == 403


def test_metrics_are_labelled_by_territory(client, two_territories) -> None:
    text = client.get("/metrics").text
    assert 'abri_placements{status="proposed",territory="59"} 1.0' in text
    assert 'abri_placements{status="proposed",territory="62"} 1.0' in text
    assert 'abri_free_beds{room="private",territory="62"} 0.0' in text


def test_the_directory_import_never_touches_another_territory(client, two_territories) -> None:
    from pathlib import Path

    nord, pdc = two_territories
    data = Path(__file__).resolve().parents[1] / "opendata" / "data"
    body = {
        "shelters_csv": (data / "shelters.csv").read_text(),
        "rooms_csv": (data / "rooms.csv").read_text(),
        "dry_run": False,
    }
    r = client.post("/api/v1/imports/directory", json=body, headers=nord.admin)
    assert r.status_code == 200, r.text
    # The same file in the Pas-de-Calais: its ids are the Nord's now, so each is refused
    # and nothing is written; the Nord's shelters are unchanged and unseen from 62.
    r = client.post("/api/v1/imports/directory", json=body, headers=pdc.admin)
    assert r.status_code == 422
    assert {e["msg"] for e in r.json()["errors"] if e["loc"][-1] == "id"} == {
        "already used by a shelter of another territory"
    }
    assert "chu-faubourg" not in str(client.get("/api/v1/shelters", headers=pdc.admin).json())
    mine = client.get("/api/v1/shelters/chu-faubourg", headers=nord.admin).json()
    assert mine["commune"] == "Valenciennes"


def test_the_unmet_report_counts_its_own_households(client, two_territories) -> None:
    from datetime import date

    nord, pdc = two_territories
    from tests.service.conftest import REQUEST

    extra = {**REQUEST, "reference": "115-62-unmet", "max_km": 1}
    assert client.post("/api/v1/requests", json=extra, headers=pdc.operator).status_code == 201
    night = date.today().isoformat()
    for side, requests in ((nord, 1), (pdc, 2)):
        report = client.get(
            "/api/v1/reports/unmet", params={"from": night}, headers=side.viewer
        ).json()
        assert report["totals"]["requests"] == requests, side.code


def test_the_command_line_names_the_territory(client, two_territories, migrated_database) -> None:
    from tests.service.test_cli_demo import _run

    r = _run("token", "create", "--role", "operator", database_url=migrated_database)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "several territories" in r.stderr
    r = _run(
        "token", "create", "--role", "operator", "--territory", "75", database_url=migrated_database
    )
    assert r.returncode == 2 and "no territory '75'" in r.stderr
    r = _run(
        "token", "create", "--role", "viewer", "--territory", "62", database_url=migrated_database
    )
    assert r.returncode == 0, r.stderr
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.stdout.strip()}"})
    assert me.json()["territory"] == "62"
    r = _run("report", "unmet", "--from", "2026-11-01", database_url=migrated_database)
    assert r.returncode == 2 and "--territory" in r.stderr
