"""GET /api/v1/dashboard/summary: numbers, freshness, privacy, ETag, roles."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from allocation.geo import haversine_km
from app.core.config import Settings
from app.dashboard.service import freshness_of, size_class
from app.shelters.service import snap
from tests.dashboard import factories as f

URL = "/api/v1/dashboard/summary"
DV_LAT, DV_LON = 50.3291, 3.3951


def round_position(lat: float, lon: float) -> tuple[float, float]:
    return snap(lat), snap(lon)


@pytest.fixture
def scene(session: Session) -> dict[str, Any]:
    """Three active shelters (fresh, ageing, never updated), one inactive, a hold expiring
    soon, an arrival, two pending requests and one finished run."""
    a = f.shelter(session, "CHU Valenciennes", "chu")
    r1 = f.room(session, a, "R1", 1)
    f.room(session, a, "R2", 2, cribs=1)
    f.room(session, a, "R3", 6, shared=True, sex="F", occupied_beds=2)
    f.room(session, a, "R4", 4, shared=True, sex="M", out_of_service=True)
    b = f.shelter(
        session,
        "Maison Refuge",
        "dv_shelter",
        lat=DV_LAT,
        lon=DV_LON,
        confidential=True,
        address="12 rue Secrète",
        commune="Saint-Amand-les-Eaux",
        availability_updated_at=f.now() - timedelta(hours=5),
    )
    f.room(session, b, "R5", 4, cribs=1)
    f.room(session, b, "R6", 2)
    r7 = f.room(session, b, "R7", 1, cribs=1)
    c = f.shelter(session, "Hôtel du Nord", "hotel", availability_updated_at=None)
    f.room(session, c, "R8", 2, occupied_beds=1)
    d = f.shelter(session, "Closed CHRS", "chrs", active=False)
    f.room(session, d, "R9", 5)

    held = f.request(session, 4, [31, 1], 60, reference="SECRET-REF-1")
    hold = f.placement(session, held, r7, "proposed", expires_in_minutes=10)
    coming = f.request(session, 1, [25], 200, reference="SECRET-REF-2")
    arrival = f.placement(session, coming, r1, "accepted", expires_in_minutes=None)
    old = f.request(session, 3, [40], 120, reference="SECRET-REF-3")
    family = f.request(
        session,
        4,
        [35, 10, 2],
        30,
        reference="SECRET-REF-4",
        unplaced_code="no_room_fits",
        unplaced_detail="none has private rooms for 3 people",
    )
    run = f.run(
        session,
        unplaced=[
            {"request_id": family.id, "code": "no_room_fits", "detail": "none fits 3"},
            {
                "request_id": old.id,
                "code": "capacity_taken",
                "detail": f"beds went to others; nearest {b.id} at 3.1 km",
            },
        ],
    )
    hold.allocation_id = run.id
    session.commit()
    return {
        "a": a, "b": b, "c": c, "hold": hold, "arrival": arrival,
        "old": old, "family": family, "run": run,
    }  # fmt: skip


def get(client: Any, headers: dict[str, str], **extra: str) -> Any:
    return client.get(URL, headers={**headers, **extra})


def test_capacity_by_kind_and_size(
    client: Any, auth: Callable[..., dict[str, str]], scene: dict[str, Any]
) -> None:
    resp = get(client, auth("viewer"))
    assert resp.status_code == 200, resp.text
    cap = resp.json()["capacity"]
    assert cap["totals"] == {
        "shelters": 3,
        "free_beds": 12,
        "free_private_rooms": 3,
        "free_private_beds": 8,
        "free_cribs": 2,
        "free_shared_beds": 4,
    }
    kinds = {k["kind"]: k for k in cap["by_kind"]}
    assert kinds["chu"] == {
        "kind": "chu", "shelters": 1, "free_private_rooms": 1, "free_private_beds": 2,
        "free_cribs": 1, "free_shared_beds": 4, "free_beds": 6,
    }  # fmt: skip
    assert kinds["dv_shelter"]["free_private_rooms"] == 2
    assert kinds["dv_shelter"]["free_beds"] == 6
    assert kinds["hotel"]["shelters"] == 1 and kinds["hotel"]["free_beds"] == 0
    assert kinds["chrs"]["shelters"] == 0  # the inactive one is not counted
    sizes = {s["size_class"]: (s["rooms"], s["beds"], s["cribs"]) for s in cap["by_size"]}
    assert sizes == {
        "single": (0, 0, 0),
        "family_2": (1, 2, 0),
        "family_3_4": (1, 2, 1),
        "family_5_plus": (1, 4, 1),
    }
    assert cap["shared_beds"] == {"women": 4, "men": 0}


def test_numbers_match_free_rooms(
    client: Any, auth: Callable[..., dict[str, str]], scene: dict[str, Any], session: Session
) -> None:
    """The one computation of what is free tonight and the dashboard agree, shelter by shelter."""
    from app.shelters.capacity import free_rooms

    per_shelter: dict[str, int] = {}
    for room in free_rooms(session):
        per_shelter[room.shelter_id] = per_shelter.get(room.shelter_id, 0) + room.beds
    session.rollback()  # SQLite: release the lock before the app reads
    body = get(client, auth("viewer")).json()
    shown = {s["shelter_id"]: s["free_beds"] for s in body["freshness"]["shelters"]}
    assert shown == {sid: per_shelter.get(sid, 0) for sid in shown}
    assert {p["shelter_id"]: p["free_beds"] for p in body["map"]["shelters"]} == shown
    assert sum(shown.values()) == body["capacity"]["totals"]["free_beds"]


def test_numbers_match_availability_endpoint(
    client: Any, auth: Callable[..., dict[str, str]], scene: dict[str, Any]
) -> None:
    """What the operators' availability list says, the dashboard says too."""
    headers = auth("viewer")
    avail = client.get("/api/v1/availability", headers=headers)
    assert avail.status_code == 200, avail.text
    data = avail.json()
    body = get(client, headers).json()
    totals = body["capacity"]["totals"]
    assert data["totals"]["free_beds"] == totals["free_beds"]
    assert data["totals"]["free_private_rooms"] == totals["free_private_rooms"]
    assert data["totals"]["free_cribs"] == totals["free_cribs"]
    shared = body["capacity"]["shared_beds"]
    assert data["totals"]["free_shared_beds"] == {"F": shared["women"], "M": shared["men"]}
    points = {p["shelter_id"]: p for p in body["map"]["shelters"]}
    assert {s["shelter_id"] for s in data["shelters"]} == set(points)
    for item in data["shelters"]:
        point = points[item["shelter_id"]]
        assert item["free_beds"] == point["free_beds"]
        # The same position, rounded the same way for a confidential shelter.
        assert (item["lat"], item["lon"]) == (point["lat"], point["lon"])
        assert (item["location_precision"] == "approximate") == point["position_rounded"]


def test_freshness_classes(
    client: Any, auth: Callable[..., dict[str, str]], scene: dict[str, Any]
) -> None:
    fresh = get(client, auth("viewer")).json()["freshness"]
    by_id = {s["shelter_id"]: s for s in fresh["shelters"]}
    assert by_id[scene["a"].id]["freshness"] == "fresh"
    assert by_id[scene["b"].id]["freshness"] == "ageing"
    assert by_id[scene["c"].id]["freshness"] == "stale"
    assert by_id[scene["c"].id]["availability_updated_at"] is None
    assert 295 <= by_id[scene["b"].id]["age_minutes"] <= 301
    assert fresh["counts"] == {"fresh": 1, "ageing": 1, "stale": 1}
    assert [s["shelter_id"] for s in fresh["stale"]] == [scene["c"].id]
    # Stalest first.
    assert [s["shelter_id"] for s in fresh["shelters"]] == [
        scene["c"].id,
        scene["b"].id,
        scene["a"].id,
    ]


def test_freshness_thresholds() -> None:
    settings = Settings(availability_ageing_hours=4, availability_stale_hours=8)
    now = f.now()
    assert freshness_of(None, now, settings) == "stale"
    assert freshness_of(now - timedelta(hours=3, minutes=59), now, settings) == "fresh"
    assert freshness_of(now - timedelta(hours=4), now, settings) == "ageing"
    assert freshness_of(now - timedelta(hours=7, minutes=59), now, settings) == "ageing"
    assert freshness_of(now - timedelta(hours=8), now, settings) == "stale"
    assert [size_class(n) for n in (1, 2, 3, 4, 5, 9)] == [
        "single", "family_2", "family_3_4", "family_3_4", "family_5_plus", "family_5_plus",
    ]  # fmt: skip


def test_waiting_list_longest_first_without_references(
    client: Any, auth: Callable[..., dict[str, str]], scene: dict[str, Any]
) -> None:
    resp = get(client, auth("operator"))
    assert "SECRET-REF" not in resp.text
    assert "rue Secr" not in resp.text
    waiting = resp.json()["waiting"]
    assert waiting["requests"] == 2 and waiting["people"] == 4
    rows = waiting["longest_first"]
    assert [r["request_id"] for r in rows] == [scene["old"].id, scene["family"].id]
    fam = rows[1]
    assert (fam["priority"], fam["household_size"]) == (4, 3)
    assert (fam["adults"], fam["children"], fam["infants"]) == (1, 1, 1)
    assert 29 <= fam["waiting_minutes"] <= 31
    assert fam["unplaced_code"] == "no_room_fits"
    assert set(fam) == {
        "request_id", "priority", "waiting_since", "waiting_minutes", "household_size",
        "adults", "children", "infants", "unplaced_code", "unplaced_detail",
    }  # fmt: skip
    by_p = {p["priority"]: p for p in waiting["by_priority"]}
    assert [p["priority"] for p in waiting["by_priority"]] == [4, 3, 2, 1]
    assert (by_p[4]["requests"], by_p[4]["people"]) == (1, 3)
    assert 119 <= by_p[3]["longest_wait_minutes"] <= 121
    assert by_p[1]["requests"] == 0 and by_p[1]["longest_wait_minutes"] is None

    # The viewer (the dashboard's token): sizes, codes and generic reasons only.
    viewer = get(client, auth("viewer")).json()["waiting"]
    assert viewer["by_priority"] == waiting["by_priority"]
    fam = viewer["longest_first"][1]
    assert set(fam) == {
        "priority", "waiting_since", "waiting_minutes", "household_size", "unplaced_code",
        "unplaced_reason",
    }  # fmt: skip
    assert (fam["household_size"], fam["unplaced_code"]) == (3, "no_room_fits")
    assert "none has free rooms" in fam["unplaced_reason"]


def test_latest_run_holds_and_arrivals(
    client: Any, auth: Callable[..., dict[str, str]], scene: dict[str, Any]
) -> None:
    body = get(client, auth("operator")).json()
    run = body["latest_run"]
    assert run["id"] == scene["run"].id
    assert run["status"] == "optimal"
    assert run["people_placed"] == 4
    assert run["people_placed_by_priority"]["4"] == 3
    assert run["bound_by_priority"]["4"] == 3
    assert run["total_km"] == 12.5
    assert run["proposals"] == 1
    # Most urgent first, each with a reason in words.
    assert [u["request_id"] for u in run["unplaced"]] == [scene["family"].id, scene["old"].id]
    assert run["unplaced"][0]["household_size"] == 3
    assert "none has free rooms" in run["unplaced"][0]["reason"]
    # Shelters are named as the night desk knows them, not by id.
    assert run["unplaced"][1]["detail"] == "beds went to others; nearest Maison Refuge at 3.1 km"

    assert body["holds_total"] == 1
    [hold] = body["expiring_holds"]
    assert hold["placement_id"] == scene["hold"].id
    assert hold["shelter_name"] == "Maison Refuge"
    assert 8 <= hold["minutes_left"] <= 10
    assert hold["household_size"] == 2
    [arrival] = body["arrivals"]
    assert arrival["placement_id"] == scene["arrival"].id
    assert arrival["household_size"] == 1

    # The viewer: the same counts, no id joining a household to a shelter, no sentence.
    viewer = get(client, auth("viewer")).json()
    v_run = viewer["latest_run"]
    assert v_run["people_placed"] == 4 and v_run["total_km"] == 12.5
    assert [set(u) for u in v_run["unplaced"]] == [
        {"code", "reason", "priority", "household_size"}
    ] * 2
    [v_hold] = viewer["expiring_holds"]
    assert set(v_hold) == {
        "shelter_id", "shelter_name", "expires_at", "minutes_left", "household_size", "priority"
    }  # fmt: skip
    [v_arrival] = viewer["arrivals"]
    assert "placement_id" not in v_arrival and "request_id" not in v_arrival
    assert "km" not in v_arrival
    for text in (scene["hold"].id, scene["arrival"].id, scene["family"].id, scene["old"].id):
        assert text not in json.dumps(viewer)


def test_no_run_yet(client: Any, auth: Callable[..., dict[str, str]], session: Session) -> None:
    body = get(client, auth("viewer")).json()
    assert body["latest_run"] is None
    assert body["map"] == {"bounds": None, "shelters": []}
    assert body["capacity"]["totals"]["free_beds"] == 0


def test_confidential_position_rounded(
    client: Any, auth: Callable[..., dict[str, str]], scene: dict[str, Any]
) -> None:
    for role in ("viewer", "operator", "admin"):
        points = {p["shelter_id"]: p for p in get(client, auth(role)).json()["map"]["shelters"]}
        dv = points[scene["b"].id]
        assert dv["position_rounded"] is True
        assert (dv["lat"], dv["lon"]) == round_position(DV_LAT, DV_LON)
        assert (dv["lat"], dv["lon"]) != (DV_LAT, DV_LON)
        chu = points[scene["a"].id]
        assert chu["position_rounded"] is False
        assert (chu["lat"], chu["lon"]) == (scene["a"].lat, scene["a"].lon)


def test_round_position_is_about_5_km() -> None:
    lat, lon = round_position(DV_LAT, DV_LON)
    # Within half a grid cell (0.05 degree) of the truth: a few km, never the exact point.
    assert 0.5 < haversine_km(DV_LAT, DV_LON, lat, lon) <= 3.5
    cells = {round_position(50.30 + i * 0.002, 3.40) for i in range(30)}
    assert 2 <= len(cells) <= 3  # 6.6 km of latitude spans two or three cells


def test_etag_304_then_new_etag_after_change(
    client: Any, auth: Callable[..., dict[str, str]], scene: dict[str, Any], session: Session
) -> None:
    headers = auth("viewer")
    first = get(client, headers)
    etag = first.headers["etag"]
    again = get(client, headers, **{"If-None-Match": etag})
    if again.status_code == 200:  # the minute turned between the two calls
        etag = again.headers["etag"]
        again = get(client, headers, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag
    assert again.content == b""

    # A shelter's evening update changes the numbers: a new document and a new tag.
    room = next(r for r in scene["a"].rooms if r.label == "R3")
    room.occupied_beds = 5
    session.commit()
    changed = get(client, headers, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["capacity"]["shared_beds"]["women"] == 1

    # A new allocation run does too.
    etag = changed.headers["etag"]
    f.run(session, status="feasible")
    session.commit()
    after_run = get(client, headers, **{"If-None-Match": etag})
    assert after_run.status_code == 200
    assert after_run.json()["latest_run"]["status"] == "feasible"


def test_roles(client: Any, auth: Callable[..., dict[str, str]], scene: dict[str, Any]) -> None:
    assert client.get(URL).status_code == 401
    bad = client.get(URL, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert client.get(URL, headers=auth("shelter", shelter_id=scene["a"].id)).status_code == 403
    for role in ("viewer", "operator", "admin"):
        assert client.get(URL, headers=auth(role)).status_code == 200


def test_openapi_documents_the_summary(client: Any) -> None:
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/api/v1/dashboard/summary"]["get"]
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    refs = [s["$ref"].rsplit("/", 1)[1] for s in schema["anyOf"]]
    assert refs == ["DashboardSummary", "ViewerDashboardSummary"]
    assert {"304", "401", "403"} <= set(op["responses"])
    assert "DashboardSummary" in doc["components"]["schemas"]


def test_page_and_static_files(client: Any) -> None:
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    for name in ("dashboard.js", "dashboard.css", "i18n.js"):
        assert client.get(f"/dashboard/static/{name}").status_code == 200, name
    assert client.get("/dashboard/static/..%2Frouter.py").status_code == 404
    assert client.get("/dashboard/static/router.py").status_code == 404


def test_overdue_hold_shown_until_released_and_later_holds_not_listed(
    client: Any, auth: Callable[..., dict[str, str]], session: Session
) -> None:
    sh = f.shelter(session, "CHU Denain", "chu")
    overdue = f.placement(
        session,
        f.request(session, 2, [40]),
        f.room(session, sh, "A", 1),
        "proposed",
        expires_in_minutes=-3,
    )
    f.placement(
        session,
        f.request(session, 2, [41]),
        f.room(session, sh, "B", 1),
        "proposed",
        expires_in_minutes=60,
    )
    session.commit()
    body = get(client, auth("operator")).json()
    assert body["holds_total"] == 2
    [hold] = body["expiring_holds"]
    assert hold["placement_id"] == overdue.id
    assert hold["minutes_left"] < 0
    # Both rooms are held, so nothing is free.
    assert body["capacity"]["totals"]["free_beds"] == 0
