"""The directory import: all or nothing, every bad cell named, idempotent."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.opendata.conftest import DATA, ROOMS_CSV, SHELTERS_CSV

ROOT = Path(__file__).resolve().parents[2]


def _shelters(client: Any, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in client.get("/api/v1/shelters", headers=headers).json()}


def test_import_creates_shelters_and_rooms_as_the_api_would(
    client: Any, auth: Callable[..., dict[str, str]], import_files: Callable[..., Any]
) -> None:
    r = import_files()
    assert r.status_code == 200, r.text
    assert r.json() == {
        "dry_run": False,
        "shelters_created": 2,
        "shelters_updated": 0,
        "shelters_unchanged": 0,
        "rooms_created": 3,
        "rooms_updated": 0,
        "rooms_unchanged": 0,
    }
    admin = auth("admin")
    shelters = _shelters(client, admin)
    iris = shelters["refuge-iris"]
    assert iris["confidential"] is True and iris["lat"] == 50.3312  # decimal comma read
    assert iris["max_boy_age"] == 14 and iris["dv_specialised"] is True
    assert shelters["chu-faubourg"]["languages"] == ["fr", "ar"]
    rooms = client.get("/api/v1/shelters/chu-faubourg/rooms", headers=admin).json()
    by_label = {room["label"]: room for room in rooms}
    assert by_label["D1"]["shared"] is True and by_label["D1"]["sex"] == "F"
    assert by_label["F1"]["free_beds"] == 4 and by_label["F1"]["wheelchair"] is True
    # An operator sees the imported confidential shelter masked, as any other.
    operator_view = _shelters(client, auth("operator"))["refuge-iris"]
    assert operator_view["address"] is None and operator_view["location_precision"] == "approximate"


def test_reimporting_the_same_files_changes_nothing(
    client: Any, auth: Callable[..., dict[str, str]], import_files: Callable[..., Any]
) -> None:
    assert import_files().status_code == 200
    admin = auth("admin")
    before = _shelters(client, admin)
    again = import_files()
    assert again.status_code == 200
    assert again.json()["shelters_unchanged"] == 2 and again.json()["rooms_unchanged"] == 3
    assert again.json()["shelters_updated"] == again.json()["rooms_updated"] == 0
    after = _shelters(client, admin)
    assert {k: v["version"] for k, v in after.items()} == {
        k: v["version"] for k, v in before.items()
    }
    audit = client.get("/api/v1/audit?action=directory.import", headers=admin).json()
    assert audit["total"] == 1  # the first import only: the second wrote nothing


def test_a_changed_row_updates_only_that_object(
    client: Any, auth: Callable[..., dict[str, str]], import_files: Callable[..., Any]
) -> None:
    assert import_files().status_code == 200
    rooms = ROOMS_CSV.replace("refuge-iris,R1,3,1", "refuge-iris,R1,4,1")
    r = import_files(rooms=rooms)
    assert r.json()["rooms_updated"] == 1 and r.json()["rooms_unchanged"] == 2
    room = client.get("/api/v1/shelters/refuge-iris/rooms", headers=auth("admin")).json()[0]
    assert room["beds"] == 4 and room["version"] == 2


def test_every_bad_cell_is_named_and_nothing_is_written(
    client: Any, auth: Callable[..., dict[str, str]], import_files: Callable[..., Any]
) -> None:
    shelters = SHELTERS_CSV.replace("50.357,3.523,oui", "95.0,3.523,peut-être")
    rooms = ROOMS_CSV + "nowhere,X1,2,0,no,,no\nchu-faubourg,F1,2,0,no,,no\n"
    r = import_files(shelters=shelters, rooms=rooms)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    locs = {tuple(e["loc"]) for e in r.json()["errors"]}
    assert ("shelters.csv", 2, "lat") in locs  # out of range, via the API's own schema
    assert ("shelters.csv", 2, "women") in locs  # not a yes/no value
    assert ("rooms.csv", 5, "shelter_id") in locs  # unknown shelter
    assert ("rooms.csv", 6, "label") in locs  # same room twice
    assert _shelters(client, auth("admin")) == {}


def test_unknown_or_missing_columns_are_refused(import_files: Callable[..., Any]) -> None:
    r = import_files(shelters=SHELTERS_CSV.replace("intake_phone", "phone"))
    locs = {tuple(e["loc"]) for e in r.json()["errors"]}
    assert r.status_code == 422 and ("shelters.csv", 1, "phone") in locs
    r = import_files(rooms="shelter_id,label\nchu-faubourg,F1\n")
    assert ("rooms.csv", 1, "beds") in {tuple(e["loc"]) for e in r.json()["errors"]}


def test_dry_run_counts_but_writes_nothing(
    client: Any, auth: Callable[..., dict[str, str]], import_files: Callable[..., Any]
) -> None:
    r = import_files(dry_run=True)
    assert r.status_code == 200 and r.json()["shelters_created"] == 2
    assert _shelters(client, auth("admin")) == {}


def test_fewer_beds_than_are_taken_tonight_is_refused(
    client: Any, auth: Callable[..., dict[str, str]], import_files: Callable[..., Any]
) -> None:
    assert import_files().status_code == 200
    admin = auth("admin")
    dorm = next(
        room
        for room in client.get("/api/v1/shelters/chu-faubourg/rooms", headers=admin).json()
        if room["label"] == "D1"
    )
    shelter_token = auth("shelter", shelter_id="chu-faubourg")
    items = [{"room_id": dorm["id"], "out_of_service": False, "occupied_beds": 5}]
    put = client.put(
        "/api/v1/shelters/chu-faubourg/availability", json=items, headers=shelter_token
    )
    assert put.status_code == 200, put.text
    r = import_files(rooms=ROOMS_CSV.replace("D1,6,0,yes", "D1,3,0,yes"))
    assert r.status_code == 422
    assert ["rooms.csv", 3, "beds"] in [e["loc"] for e in r.json()["errors"]]
    after = client.get(f"/api/v1/rooms/{dorm['id']}", headers=admin).json()
    assert after["beds"] == 6 and after["version"] == dorm["version"] + 1  # the PUT only


def test_only_an_admin_may_import(auth: Callable[..., dict[str, str]], client: Any) -> None:
    body = {"shelters_csv": SHELTERS_CSV, "rooms_csv": ROOMS_CSV}
    r = client.post("/api/v1/imports/directory", json=body, headers=auth("operator"))
    assert r.status_code == 403


def _cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_on_the_command_line(
    client: Any, auth: Callable[..., dict[str, str]], migrated_database: str, tmp_path: Path
) -> None:
    run = _cli(
        "import",
        str(DATA / "shelters.csv"),
        str(DATA / "rooms.csv"),
        database_url=migrated_database,
    )
    assert run.returncode == 0, run.stderr
    assert "shelters 2 new" in run.stdout
    assert set(_shelters(client, auth("admin"))) == {"chu-faubourg", "refuge-iris"}
    bad = tmp_path / "rooms.csv"
    bad.write_text(ROOMS_CSV.replace("F1,4,1", "F1,quatre,1"), encoding="utf-8")
    run = _cli("import", str(DATA / "shelters.csv"), str(bad), database_url=migrated_database)
    assert run.returncode == 2
    assert "rooms.csv line 2, column beds" in run.stderr
    assert "nothing was imported" in run.stderr.splitlines()[-1]
