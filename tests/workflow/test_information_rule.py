"""Issue 11, the information rule: what an operator, a viewer or another shelter reads is a
function of a confidential shelter's published cell only.

The same night is built twice, with the confidential shelter at two positions inside one
~5 km cell (about 5 km apart), and the same calls are replayed for each role: options,
manual placements (refused ones with their errors), an allocation run, the run documents,
placements, requests, the dashboard, availability and the shelter list. The answers must be
byte for byte the same once timestamps and timings (which legitimately differ between two
builds) are masked; ids are made the same by construction. The admin and the shelter's own
staff, who may know where it is, do read different exact km. A control build that hands the
engine the true position shows that the comparison does catch a leak.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.core.db import get_sessionmaker, utcnow
from app.shelters.models import Room
from app.shelters.service import cell_margin_km, snap
from tests.conftest import _wipe

from .factories import make_request, make_shelter

CELL = (50.35, 3.50)  # the published cell both positions snap to
POS_A = (50.330, 3.480)  # south-west part of the cell
POS_B = (50.372, 3.521)  # north-east part, about 5 km away
ZONE = {"lat": 50.333, "lon": 3.483, "km": 1.0}  # holds POS_A, not the cell centre, not POS_B

# Every module that draws ids: the two builds get the same ids in the same order.
_ID_MODULES = (
    "app.auth.models",
    "app.allocations.models",
    "app.placements.models",
    "app.placements.service",
    "app.requests.models",
    "app.shelters.models",
)

Call = tuple[str, str, str, dict[str, Any] | None]  # (role, method, path, json body)


def test_positions_share_a_cell_and_the_zone_holds_only_one() -> None:
    from allocation.geo import haversine_km

    for lat, lon in (POS_A, POS_B):
        assert (snap(lat), snap(lon)) == CELL
    assert haversine_km(*POS_A, *POS_B) > 4.5
    assert haversine_km(ZONE["lat"], ZONE["lon"], *POS_A) < ZONE["km"]
    assert haversine_km(ZONE["lat"], ZONE["lon"], *POS_B) > ZONE["km"]
    assert haversine_km(ZONE["lat"], ZONE["lon"], *CELL) > ZONE["km"]
    # The margin covers every corner of the cell.
    corners = [(CELL[0] + a, CELL[1] + b) for a in (-0.025, 0.025) for b in (-0.025, 0.025)]
    assert max(haversine_km(*CELL, *c) for c in corners) < cell_margin_km(*CELL)


@pytest.fixture
def same_ids(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Ids from a counter; calling the result restarts it (one start per build)."""
    counter: list[Iterator[int]] = [itertools.count(1)]

    def new_id(prefix: str) -> str:
        return f"{prefix}_{next(counter[0]):016x}"

    for module in _ID_MODULES:
        monkeypatch.setattr(f"{module}.new_id", new_id)

    def restart() -> None:
        counter[0] = itertools.count(1)

    return restart


def _forget_caches() -> None:
    """The run documents rendered by the first build must not answer the second."""
    from app.allocations import router, service

    router._documents = service.DocumentCache()
    service.forget_latest()


def _build_night(session: Session, confidential_at: tuple[float, float]) -> None:
    waited = utcnow().replace(second=0, microsecond=0) - timedelta(hours=2)
    conf = make_shelter(
        session, id="shl_conf", name="Refuge Les Iris", kind="dv_shelter", confidential=True,
        lat=confidential_at[0], lon=confidential_at[1], men=False, dv_specialised=True,
        address="6 allée des Iris", rooms=[],
    )  # fmt: skip
    east = make_shelter(session, id="shl_east", name="CHU Est", lat=50.36, lon=3.56, rooms=[])
    north = make_shelter(
        session, id="shl_north", name="CHRS Nord", lat=50.45, lon=3.52, men=False,
        dv_specialised=True, rooms=[],
    )  # fmt: skip
    for rid, sh, beds, cribs in (
        ("room_conf_1", conf, 2, 1),
        ("room_conf_2", conf, 1, 0),
        ("room_conf_3", conf, 1, 0),
        ("room_east_1", east, 2, 0),
        ("room_east_2", east, 1, 0),
        ("room_north_1", north, 3, 0),
        ("room_north_2", north, 1, 0),
    ):
        session.add(Room(id=rid, shelter_id=sh.id, label=rid, beds=beds, cribs=cribs))
    dv = {"dv_specialised": True}
    households: list[dict[str, Any]] = [
        # Typed next to the true position in one build, 5 km from it in the other.
        {"id": "req_near", "members": [(30, "F"), (5, "M")], "needs": dv,
         "origin": (50.331, 3.481)},
        # Rule 5 refuses the cell (2.7 km from its centre); the true position is 0.1 km away
        # in one build.
        {"id": "req_maxkm", "members": [(28, "F")], "needs": dv, "origin": (50.371, 3.520),
         "max_km": 1.5},
        # A safety zone around POS_A: the cell is refused as a whole.
        {"id": "req_zone", "members": [(35, "F")], "needs": dv, "origin": (50.40, 3.50),
         "avoid": [ZONE]},
        # Nobody takes pets: the near-miss sentence measures the cell.
        {"id": "req_pets", "members": [(40, "F")], "needs": {"pets": True},
         "origin": (50.332, 3.482)},
        {"id": "req_manual", "members": [(25, "F")], "needs": dv, "origin": (50.36, 3.49)},
        # Kept 2 km from req_manual, placed by hand in the confidential shelter below.
        {"id": "req_keep", "members": [(33, "F")], "origin": (50.36, 3.55),
         "keep_apart": [{"request_id": "req_manual", "km": 2.0}]},
        {"id": "req_man", "members": [(45, "M")], "origin": (50.35, 3.55)},
    ]  # fmt: skip
    for i, h in enumerate(households):
        make_request(
            session,
            id=h["id"],
            reference=f"115-INFO-{i}",
            members=h["members"],
            origin=h["origin"],
            priority=3 + (i % 2),
            waiting_since=waited + timedelta(minutes=i),
            needs=h.get("needs", {}),
            max_km=h.get("max_km"),
            avoid=h.get("avoid", []),
            keep_apart=h.get("keep_apart", []),
        )
    session.commit()


def _calls() -> list[Call]:
    """What roles that may not know where the confidential shelter is ask, in order."""
    options: list[Call] = [
        ("operator", "GET", f"/api/v1/requests/{rid}/options", None)
        for rid in ("req_near", "req_maxkm", "req_zone", "req_pets", "req_manual", "req_man")
    ]
    options.append(("admin", "GET", "/api/v1/requests/req_near/options", None))
    placements: list[Call] = [
        # Refused: rule 5 (with the km in the message), rule 6; then one made by hand.
        ("operator", "POST", "/api/v1/requests/req_maxkm/placements",
         {"shelter_id": "shl_conf", "room_ids": ["room_conf_2"]}),
        ("operator", "POST", "/api/v1/requests/req_zone/placements",
         {"shelter_id": "shl_conf", "room_ids": ["room_conf_2"]}),
        ("operator", "POST", "/api/v1/requests/req_manual/placements",
         {"shelter_id": "shl_conf", "room_ids": ["room_conf_3"]}),
        ("operator", "GET", "/api/v1/requests/req_keep/options", None),
        # Rule 8 through the placed partner: refused in the shelter 4.4 km from the cell.
        ("operator", "POST", "/api/v1/requests/req_keep/placements",
         {"shelter_id": "shl_east", "room_ids": ["room_east_2"]}),
        ("operator", "POST", "/api/v1/allocations", None),
    ]  # fmt: skip
    reads: list[Call] = []
    for role in ("operator", "viewer"):
        reads += [
            (role, "GET", "/api/v1/allocations/latest", None),
            (role, "GET", "/api/v1/allocations/{run}", None),
            (role, "GET", "/api/v1/allocations", None),
            (role, "GET", "/api/v1/dashboard/summary", None),
            (role, "GET", "/api/v1/availability", None),
            (role, "GET", "/api/v1/shelters", None),
            (role, "GET", "/api/v1/shelters/shl_conf", None),
        ]
    reads += [
        ("operator", "GET", "/api/v1/placements", None),
        ("operator", "GET", "/api/v1/requests", None),
        ("operator", "GET", "/api/v1/requests/req_pets", None),
        ("other_shelter", "GET", "/api/v1/placements", None),
        ("other_shelter", "GET", "/api/v1/shelters", None),
        ("other_shelter", "GET", "/api/v1/shelters/shl_conf", None),
        # Those who may know where it is.
        ("admin", "GET", "/api/v1/allocations/latest", None),
        ("admin", "GET", "/api/v1/placements", None),
        ("own_staff", "GET", "/api/v1/placements", None),
    ]
    return options + placements + reads


PRIVILEGED = ("admin", "own_staff")


_TIMESTAMP = re.compile(r'"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?"')
_MINUTES = re.compile(r'"(\w*minutes\w*)":-?\d+')
# Engine and run timings: "wall_s": 0.41, "timings_s": {...}, "km-sub:optimal:1980:0.1s/1.9s@0.1s".
_SECONDS = re.compile(r'"(\w+_s)":[-+.\deE]+')
_TIMINGS = re.compile(r'"timings_s":\{[^}]*\}')
_LOG_SECONDS = re.compile(r"\d+\.\d+s\b")


def _normalised(body: str) -> str:
    body = _TIMESTAMP.sub('"<time>"', body)
    body = _MINUTES.sub(r'"\1":"<minutes>"', body)
    body = _TIMINGS.sub('"timings_s":"<seconds>"', body)
    body = _LOG_SECONDS.sub("<seconds>", body)
    return _SECONDS.sub(r'"\1":"<seconds>"', body)


def _replay(
    client: Any,
    wipe_engine: Any,
    make_token: Callable[..., str],
    same_ids: Callable[[], None],
    position: tuple[float, float],
    calls: list[Call],
) -> list[tuple[str, int, str]]:
    _wipe(wipe_engine)  # the harness's engine: the service role may not empty the log
    _forget_caches()
    same_ids()
    with get_sessionmaker()() as s:
        _build_night(s, position)
    tokens = {
        role: make_token(role, name=f"info {role}") for role in ("operator", "viewer", "admin")
    }
    tokens["other_shelter"] = make_token("shelter", shelter_id="shl_east", name="info east")
    tokens["own_staff"] = make_token("shelter", shelter_id="shl_conf", name="info iris")
    out = []
    run_id = ""
    for role, method, path, body in calls:
        path = path.replace("{run}", run_id)
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        resp = client.request(method, path, headers=headers, json=body)
        if path == "/api/v1/allocations" and method == "POST":
            run_id = resp.json()["id"]
        out.append((f"{role} {method} {path}", resp.status_code, _normalised(resp.text)))
        assert resp.status_code < 500, (path, resp.text)
    return out


def test_answers_depend_on_the_cell_only(client, _wipe_engine, make_token, same_ids) -> None:
    a = _replay(client, _wipe_engine, make_token, same_ids, POS_A, _calls())
    b = _replay(client, _wipe_engine, make_token, same_ids, POS_B, _calls())
    privileged = [i for i, (label, _, _) in enumerate(a) if label.split()[0] in PRIVILEGED]
    seen_a = [x for i, x in enumerate(a) if i not in privileged]
    seen_b = [x for i, x in enumerate(b) if i not in privileged]

    for (label, status_a, body_a), (_, status_b, body_b) in zip(seen_a, seen_b, strict=True):
        assert (status_a, body_a) == (status_b, body_b), label

    answers = {label: (status, body) for label, status, body in seen_a}
    # The replay exercised what it claims: refusals with their rule, a run, a near miss.
    status, body = answers["operator POST /api/v1/requests/req_maxkm/placements"]
    assert status == 422 and "beyond max_km 1.5 (rule 5)" in body
    status, body = answers["operator POST /api/v1/requests/req_zone/placements"]
    assert status == 422 and "may lie inside one of the household's safety zones" in body
    assert answers["operator POST /api/v1/requests/req_manual/placements"][0] == 201
    status, body = answers["operator POST /api/v1/requests/req_keep/placements"]
    assert status == 422 and "safety zones (rule 6)" in body
    assert "nearest near miss" in answers["operator GET /api/v1/requests/req_pets/options"][1]
    run = json.loads(answers["operator POST /api/v1/allocations"][1])
    placed = {p["request_id"]: p["shelter_id"] for p in run["proposals"]}
    assert placed.get("req_near") == "shl_conf"
    # POS_A is inside req_zone's safety zone: never placed there, in either build.
    assert placed.get("req_zone") != "shl_conf"
    assert placed.get("req_keep") not in ("shl_conf", "shl_east")

    # The admin and the shelter's own staff read the exact km, which moved with the shelter.
    for i in privileged:
        assert a[i][2] != b[i][2], a[i][0]


def test_the_comparison_catches_the_true_position(
    client, _wipe_engine, make_token, same_ids, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control: hand the engine the true position and the same replay tells the builds apart."""
    import app.allocations.problem as problem

    monkeypatch.setattr(problem, "published_cell", lambda s: (s.lat, s.lon, 0.0))
    calls = _calls()[:6]  # the operator's options alone
    a = _replay(client, _wipe_engine, make_token, same_ids, POS_A, calls)
    b = _replay(client, _wipe_engine, make_token, same_ids, POS_B, calls)
    differing = [x[0] for x, y in zip(a, b, strict=True) if x != y]
    assert len(differing) >= 4, differing


# --- the viewer (the dashboard's token) and confidential names -------------------------------

_VIEWER_RUN_KEYS = {
    "id", "status", "trigger", "started_at", "finished_at", "objective", "bound",
    "requests_considered", "rooms_considered", "proposals", "unplaced", "error", "version",
}  # fmt: skip


def _night_with_a_run(client: Any, auth: Callable[..., dict[str, str]]) -> dict[str, Any]:
    with get_sessionmaker()() as s:
        _build_night(s, POS_A)
    operator = auth("operator")
    placed = client.post(
        "/api/v1/requests/req_manual/placements",
        headers=operator,
        json={"shelter_id": "shl_conf", "room_ids": ["room_conf_3"]},
    )
    assert placed.status_code == 201
    accepted = client.post(f"/api/v1/placements/{placed.json()['id']}/accept", headers=operator)
    assert accepted.status_code == 200
    run = client.post("/api/v1/allocations", headers=operator)
    assert run.status_code == 201
    return run.json()


def test_viewer_reads_counts_sizes_and_codes_only(client, db, auth) -> None:
    run = _night_with_a_run(client, auth)
    at_conf = [p for p in run["proposals"] if p["shelter_id"] == "shl_conf"]
    assert at_conf and run["unplaced"]  # the operator's run names both
    viewer = auth("viewer")
    secrets = {"req_", "plc_", "room_", "shl_conf", "Refuge Les Iris", "near miss", "triggered_by"}
    for path in ("/api/v1/allocations/latest", f"/api/v1/allocations/{run['id']}"):
        resp = client.get(path, headers=viewer)
        assert resp.status_code == 200
        doc = resp.json()
        assert set(doc) == _VIEWER_RUN_KEYS
        assert [set(p) for p in doc["proposals"]] == [
            {"shelter_id", "expires_at", "status", "people"}
        ] * len(run["proposals"])
        assert sum(p["shelter_id"] is None for p in doc["proposals"]) == len(at_conf)
        assert {u["code"] for u in doc["unplaced"]} == {u["code"] for u in run["unplaced"]}
        assert all(set(u) == {"code", "reason", "people"} for u in doc["unplaced"])
        assert [s for s in secrets if s in resp.text] == [], path
    # The operator reads the full document from the same endpoint.
    full = client.get("/api/v1/allocations/latest", headers=auth("operator")).json()
    assert full["proposals"][0]["placement_id"] and "stats" in full

    runs = client.get("/api/v1/allocations", headers=viewer).json()["items"]
    assert runs and all("triggered_by" not in r for r in runs)
    operator_runs = client.get("/api/v1/allocations", headers=auth("operator")).json()["items"]
    assert operator_runs[0]["triggered_by"] == "test operator"

    resp = client.get("/api/v1/dashboard/summary", headers=viewer)
    summary = resp.json()
    # Shelters are listed by name (capacity, freshness, the map at its rounded position) but
    # never next to a household: no arrival, hold or reason names the confidential one.
    household_parts = {k: v for k, v in summary.items() if k not in ("freshness", "map")}
    text = json.dumps(household_parts)
    assert [s for s in secrets if s in text] == []
    arrivals = summary["arrivals"]
    assert arrivals and all(a["shelter_name"] is None for a in arrivals)
    shown = {h["shelter_id"] for h in summary["expiring_holds"]}
    assert shown <= {None, "shl_east", "shl_north"}
    # The operator's dashboard names it, with the engine's sentences.
    operator_summary = client.get("/api/v1/dashboard/summary", headers=auth("operator")).json()
    assert operator_summary["arrivals"][0]["shelter_name"] == "Refuge Les Iris"
    assert operator_summary["latest_run"]["unplaced"][0]["detail"]


def test_openapi_documents_the_viewer_schemas(client) -> None:
    doc = client.get("/openapi.json").json()
    for path in ("/api/v1/allocations/latest", "/api/v1/allocations/{allocation_id}"):
        schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        refs = [s["$ref"].rsplit("/", 1)[1] for s in schema["schema"]["anyOf"]]
        assert refs == ["RunOut", "ViewerRunOut"], path
    for name in ("ViewerRunOut", "ViewerRunSummary", "ViewerDashboardSummary", "ViewerArrival"):
        assert name in doc["components"]["schemas"], name
    assert "placement_id" not in doc["components"]["schemas"]["ViewerArrival"]["properties"]
