"""Allocation runs: proposals obey every rule, holds, unplaced reasons, the lease."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select

from allocation.geo import haversine_km
from app.allocations.models import AllocationRun
from app.allocations.service import acquire_lease, release_lease
from app.core.db import get_sessionmaker, utcnow
from app.placements.models import Placement, PlacementRoom
from app.requests.models import PlacementRequest
from app.shelters.capacity import free_rooms
from tests.conftest import DEFAULT_TERRITORY_ID
from tests.workflow.factories import check_live_placements, make_request, make_shelter


def _night(session) -> dict[str, object]:
    """A small night: a women's DV shelter, a general centre, a men's dormitory, far away one."""
    dv = make_shelter(
        session,
        men=False,
        dv_specialised=True,
        secure=True,
        max_boy_age=12,
        rooms=[{"beds": 3, "cribs": 1}, {"beds": 2}, {"beds": 1}],
    )
    chu = make_shelter(
        session,
        lat=50.45,
        lon=3.55,
        rooms=[{"beds": 4}, {"beds": 1}, {"beds": 6, "shared": True, "sex": "M"}],
    )
    far = make_shelter(session, lat=49.0, lon=2.0, rooms=[{"beds": 5}])
    reqs = {
        "victim": make_request(
            session,
            members=[(31, "F"), (4, "F"), (1, "M")],
            priority=4,
            needs={"dv_specialised": True},
        ),
        "man": make_request(session, members=[(45, "M")], priority=2),
        "man2": make_request(session, members=[(52, "M")], priority=1),
        "family": make_request(session, members=[(40, "M"), (38, "F"), (10, "M"), (8, "F")]),
        "boy15": make_request(
            session, members=[(35, "F"), (15, "M")], priority=3, needs={"dv_specialised": True}
        ),
        "nowhere": make_request(session, members=[(30, "F")] + [(5, "F")] * 7, max_km=30),
    }
    session.commit()
    return {"dv": dv, "chu": chu, "far": far, **reqs}


def test_run_proposals_obey_every_rule(client, session, auth) -> None:
    night = _night(session)
    r = client.post("/api/v1/allocations", headers=auth("operator"))
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["status"] in ("optimal", "feasible")
    assert run["finished_at"] and run["started_at"]
    assert r.headers["ETag"]
    placed = {p["request_id"]: p for p in run["proposals"]}
    unplaced = {u["request_id"]: u for u in run["unplaced"]}
    assert set(placed) | set(unplaced) == {
        night[k].id for k in ("victim", "man", "man2", "family", "boy15", "nowhere")
    }
    assert not set(placed) & set(unplaced)
    # The DV victim with her children goes to the DV shelter; the boy of 15 cannot.
    assert placed[night["victim"].id]["shelter_id"] == night["dv"].id
    assert placed.get(night["boy15"].id, {}).get("shelter_id") != night["dv"].id
    assert unplaced[night["nowhere"].id]["code"] == "no_room_fits"
    assert unplaced[night["nowhere"].id]["detail"]
    # The engine's own checker, on the problem rebuilt from the database.
    assert check_live_placements([p["placement_id"] for p in run["proposals"]]) == []
    for p in run["proposals"]:
        assert p["expires_at"] and p["status"] == "proposed"
    # The requests follow; the unplaced keep their reason.
    session.expire_all()
    for rid in placed:
        assert session.get(PlacementRequest, rid).status == "proposed"
    nowhere = session.get(PlacementRequest, night["nowhere"].id)
    assert nowhere.status == "pending"
    assert nowhere.unplaced_code == "no_room_fits"
    assert nowhere.last_allocation_id == run["id"]
    stored = session.get(AllocationRun, run["id"])
    assert stored.input_fingerprint and len(stored.input_fingerprint) == 64
    assert stored.stats["proposals"] == len(placed)


def test_run_document_shows_each_proposal_rooms_and_size(client, session, auth) -> None:
    """The run as the dashboard reads it: every proposal's rooms and household size, the
    same from /latest (rendered by a reader) as from the run's own answer."""
    night = _night(session)
    run = client.post("/api/v1/allocations", headers=auth("operator")).json()
    latest = client.get("/api/v1/allocations/latest", headers=auth("operator")).json()
    assert latest == run
    sizes = {night[k].id: len(night[k].members) for k in ("victim", "man", "family", "boy15")}
    for p in run["proposals"]:
        rooms = session.scalars(
            select(PlacementRoom.room_id).where(PlacementRoom.placement_id == p["placement_id"])
        )
        assert sorted(p["room_ids"]) == sorted(rooms) and p["room_ids"]
        if p["request_id"] in sizes:
            assert p["people"] == sizes[p["request_id"]]


def test_held_beds_are_not_free_for_the_next_run(client, session, auth) -> None:
    shelter = make_shelter(session, rooms=[{"beds": 2}, {"beds": 3, "shared": True, "sex": "F"}])
    make_request(session, members=[(30, "F"), (6, "M")])
    make_request(session, members=[(25, "F")])
    make_request(session, members=[(26, "F")])
    session.commit()
    first = client.post("/api/v1/allocations", headers=auth("operator")).json()
    assert len(first["proposals"]) == 3
    held: dict[str, int] = {}
    for r in session.scalars(select(PlacementRoom).where(PlacementRoom.active.is_(True))):
        held[r.room_id] = held.get(r.room_id, 0) + r.beds
    free = {r.room_id: r.beds for r in free_rooms(session, [shelter.id])}
    shared = shelter.rooms[1].id
    assert held[shared] == 2
    assert free == {shared: 1}  # 3 shared beds, 2 held; the private room held whole
    session.commit()
    make_request(session, members=[(33, "F"), (2, "F")])
    session.commit()
    second = client.post("/api/v1/allocations", headers=auth("operator")).json()
    assert second["proposals"] == []
    assert [u["code"] for u in second["unplaced"]] == ["no_room_fits"]
    assert check_live_placements() == []


def test_keep_apart_placed_partner_is_a_safety_zone(client, session, auth) -> None:
    near = make_shelter(session, rooms=[{"beds": 2}, {"beds": 2}])
    close = make_shelter(session, lat=50.40, lon=3.52, rooms=[{"beds": 2}])  # ~5 km
    far = make_shelter(session, lat=50.70, lon=3.17, rooms=[{"beds": 2}])  # ~45 km
    him = make_request(session, members=[(40, "M")])
    session.commit()
    # He is placed by hand in the nearest shelter.
    room = near.rooms[0].id
    r = client.post(
        f"/api/v1/requests/{him.id}/placements",
        json={"shelter_id": near.id, "room_ids": [room]},
        headers=auth("operator"),
    )
    assert r.status_code == 201, r.text
    her = make_request(
        session, members=[(30, "F")], priority=4, keep_apart=[{"request_id": him.id, "km": 20}]
    )
    session.commit()
    run = client.post("/api/v1/allocations", headers=auth("operator")).json()
    [p] = run["proposals"]
    assert p["request_id"] == her.id
    assert p["shelter_id"] == far.id
    assert haversine_km(near.lat, near.lon, far.lat, far.lon) >= 20
    assert close.id != p["shelter_id"]


def test_keep_apart_both_waiting(client, session, auth) -> None:
    a = make_shelter(session, rooms=[{"beds": 1}, {"beds": 1}])
    b = make_shelter(session, lat=50.70, lon=3.17, rooms=[{"beds": 1}])
    him = make_request(session, members=[(40, "M")], priority=2)
    make_request(
        session, members=[(30, "F")], priority=4, keep_apart=[{"request_id": him.id, "km": 10}]
    )
    session.commit()
    run = client.post("/api/v1/allocations", headers=auth("operator")).json()
    shelters = {p["shelter_id"] for p in run["proposals"]}
    assert len(run["proposals"]) == 2 and shelters == {a.id, b.id}
    assert check_live_placements() == []


def test_one_run_of_a_territory_at_a_time_and_the_lease_holds_it_back(
    client, session, auth
) -> None:
    """A run waits in the queue while another holds the territory's lease; meanwhile a
    second run is refused (409); once the lease is free the queued run is done."""
    make_shelter(session)
    make_request(session)
    session.commit()
    operator = auth("operator")
    assert acquire_lease("another worker", timedelta(minutes=5), territory_id=DEFAULT_TERRITORY_ID)
    try:
        r = client.post("/api/v1/allocations", headers={**operator, "Prefer": "respond-async"})
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]
        again = client.post("/api/v1/allocations", headers=operator)
        assert again.status_code == 409
        assert again.headers["content-type"].startswith("application/problem+json")
        assert "already running" in again.json()["detail"]
        assert again.json()["allocation_id"] == run_id
        time.sleep(1.5)  # several looks by the worker: it may not start it
        assert client.get(r.headers["Location"], headers=operator).json()["status"] == "queued"
    finally:
        release_lease("another worker")
    assert _wait_done(client, r.headers["Location"], operator)["status"] == "optimal"
    assert client.post("/api/v1/allocations", headers=operator).status_code == 201


def _wait_done(client, location: str, headers: dict[str, str]) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = client.get(location, headers=headers).json()
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"{location} still {run['status']}")


def test_a_lapsed_lease_is_taken_over(client, session, auth) -> None:
    assert acquire_lease(
        "crashed",
        timedelta(minutes=5),
        now=utcnow() - timedelta(hours=1),
        territory_id=DEFAULT_TERRITORY_ID,
    )
    assert client.post("/api/v1/allocations", headers=auth("admin")).status_code == 201


def test_engine_failure_is_503_and_run_failed(client, session, auth, engine_target) -> None:
    make_shelter(session)
    make_request(session)
    session.commit()
    engine_target("crash")
    r = client.post("/api/v1/allocations", headers=auth("operator"))
    assert r.status_code == 503
    body = r.json()
    assert "solver crashed" not in body["detail"]
    assert "nothing was changed" not in body["detail"]
    run = session.get(AllocationRun, body["allocation_id"])
    assert run.status == "failed"
    assert "RuntimeError" in run.error and "solver crashed" not in run.error
    session.commit()
    engine_target("slow")
    # The lease was released: the next run goes through.
    assert client.post("/api/v1/allocations", headers=auth("operator")).status_code == 201


def test_changed_meanwhile_is_skipped_not_double_booked(client, session, auth, monkeypatch):
    """A room taken while the engine thinks: the proposal is skipped and counted."""
    from app.allocations import service

    shelter = make_shelter(session, rooms=[{"beds": 2}])
    req = make_request(session, members=[(30, "F")])
    other = make_request(session, members=[(31, "F")], priority=1)
    session.commit()
    real_solve = service._solve_bounded
    room_id = shelter.rooms[0].id

    def solve_then_someone_places(*args):
        plan = real_solve(*args)
        with get_sessionmaker()() as s, s.begin():
            from app.placements.service import create_placement
            from app.shelters.capacity import free_rooms as fr

            r = s.get(PlacementRequest, other.id)
            [free] = [x for x in fr(s, [shelter.id]) if x.room_id == room_id]
            create_placement(
                s,
                r,
                shelter.id,
                [free],
                0.0,
                utcnow() + timedelta(hours=1),
                source="manual",
                created_by="test",
            )
        return plan

    monkeypatch.setattr(service, "_solve_bounded", solve_then_someone_places)
    run = client.post("/api/v1/allocations", headers=auth("operator")).json()
    assert run["proposals"] == []
    assert run["stats"]["skipped_rooms_taken"] + run["stats"]["skipped_request_changed"] == 1
    session.expire_all()
    assert session.get(PlacementRequest, req.id).status == "pending"
    active = session.scalars(
        select(PlacementRoom).where(PlacementRoom.room_id == room_id, PlacementRoom.active)
    ).all()
    assert len(active) == 1
    assert len(session.scalars(select(Placement)).all()) == 1


def test_roles_for_runs(client, session, auth) -> None:
    assert client.post("/api/v1/allocations", headers=auth("viewer")).status_code == 403
    s = make_shelter(session)
    session.commit()
    assert client.post("/api/v1/allocations", headers=auth("shelter", s.id)).status_code == 403
    assert client.post("/api/v1/allocations").status_code == 401
    assert client.get("/api/v1/allocations/latest", headers=auth("viewer")).status_code == 404
    client.post("/api/v1/allocations", headers=auth("operator"))
    assert client.get("/api/v1/allocations/latest", headers=auth("viewer")).status_code == 200
    assert (
        client.get("/api/v1/allocations/latest", headers=auth("shelter", s.id)).status_code == 403
    )
    page = client.get("/api/v1/allocations", headers=auth("viewer")).json()
    assert page["total"] == 1 and page["items"][0]["status"] == "optimal"
    one = client.get(f"/api/v1/allocations/{page['items'][0]['id']}", headers=auth("viewer"))
    assert one.status_code == 200
    assert client.get("/api/v1/allocations/run_nope", headers=auth("viewer")).status_code == 404


def test_two_runs_at_once_one_gets_409(client, session, auth, engine_target) -> None:
    import threading

    make_shelter(session)
    make_request(session)
    session.commit()
    engine_target("slow")
    headers = auth("operator")
    codes: list[int] = []
    barrier = threading.Barrier(2)

    def post() -> None:
        barrier.wait()
        codes.append(client.post("/api/v1/allocations", headers=headers).status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(codes) == [201, 409]
    with get_sessionmaker()() as s:
        assert len(s.scalars(select(AllocationRun)).all()) == 1


def test_openapi_documents_the_workflow(client) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/v1/allocations",
        "/api/v1/allocations/latest",
        "/api/v1/allocations/{allocation_id}",
        "/api/v1/placements",
        "/api/v1/placements/{placement_id}/decline",
        "/api/v1/requests/{request_id}/options",
        "/api/v1/requests/{request_id}/placements",
        "/api/v1/audit",
    ):
        assert path in spec["paths"], path
    proposal = spec["components"]["schemas"]["Proposal"]["properties"]
    assert {"placement_id", "request_id", "shelter_id", "room_ids", "km", "expires_at"} <= set(
        proposal
    )


def test_request_amended_during_the_solve_is_not_proposed(client, session, auth, monkeypatch):
    """The plan was for the household as it was read: after an amendment it is skipped."""
    from app.allocations import service

    make_shelter(session, rooms=[{"beds": 2}])
    req = make_request(session, members=[(30, "F")])
    session.commit()
    real_solve = service._solve_bounded
    operator = auth("operator")
    etag = client.get(f"/api/v1/requests/{req.id}", headers=operator).headers["etag"]

    def solve_then_amend(*args):
        plan = real_solve(*args)
        members = [{"age": 30, "sex": "F"}, {"age": 8, "sex": "M"}, {"age": 5, "sex": "M"}]
        r = client.patch(
            f"/api/v1/requests/{req.id}",
            json={"members": members},
            headers={**operator, "If-Match": etag},
        )
        assert r.status_code == 200, r.text
        return plan

    monkeypatch.setattr(service, "_solve_bounded", solve_then_amend)
    run = client.post("/api/v1/allocations", headers=operator).json()
    assert run["proposals"] == []
    assert run["stats"]["skipped_request_changed"] == 1
    session.expire_all()
    got = session.get(PlacementRequest, req.id)
    assert got.status == "pending" and len(got.members) == 3
