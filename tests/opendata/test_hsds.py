"""The HSDS 3.1 export: valid against HSDS's schemas, tonight's beds, confidentiality kept."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from tests.opendata import hsds_schemas as schemas

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = {
    "services": schemas.SERVICE,
    "locations": schemas.LOCATION,
    "organizations": schemas.ORGANIZATION,
}
# Words of the confidential shelter that no HSDS answer may carry, whatever the setting.
SECRETS = ("Refuge Les Iris", "impasse secrète", "50.3312", "3.4117", "+33 3 53 01 00 02")

_formats = FormatChecker()


@_formats.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


def _valid(instance: Any, schema: dict[str, Any]) -> list[str]:
    validator = Draft202012Validator(schema, format_checker=_formats)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


@pytest.fixture
def imported(import_files: Callable[..., Any]) -> None:
    assert import_files().status_code == 200


@pytest.fixture
def cell_policy() -> Iterator[None]:
    from app.core.config import get_settings

    os.environ["HSDS_CONFIDENTIAL"] = "cell"
    get_settings.cache_clear()
    yield
    del os.environ["HSDS_CONFIDENTIAL"]
    get_settings.cache_clear()


@pytest.mark.parametrize("kind", sorted(ENDPOINTS))
def test_every_page_validates_against_the_hsds_schemas(
    kind: str, client: Any, auth: Callable[..., dict[str, str]], imported: None, cell_policy: None
) -> None:
    r = client.get(f"/api/v1/hsds/{kind}", headers=auth("viewer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert _valid(body, schemas.page_of(ENDPOINTS[kind])) == []
    assert body["total_items"] == 2 and body["size"] == 2 and not body["empty"]


def test_capacities_are_tonights_free_beds(
    client: Any, auth: Callable[..., dict[str, str]], imported: None
) -> None:
    viewer = auth("viewer")

    def beds() -> dict[str, Any]:
        services = client.get("/api/v1/hsds/services", headers=viewer).json()["contents"]
        (service,) = services  # the confidential shelter is left out by default
        return {c["unit"]["name"]: c for c in service["capacities"]}

    before = beds()
    assert before["bed"]["available"] == 10 and before["bed"]["maximum"] == 10  # 4 + 6 beds
    assert before["crib"]["available"] == 1
    rooms = client.get("/api/v1/shelters/chu-faubourg/rooms", headers=auth("admin")).json()
    dorm = next(room for room in rooms if room["label"] == "D1")
    items = [{"room_id": dorm["id"], "out_of_service": False, "occupied_beds": 2}]
    shelter = auth("shelter", shelter_id="chu-faubourg")
    put = client.put("/api/v1/shelters/chu-faubourg/availability", json=items, headers=shelter)
    assert put.status_code == 200
    after = beds()
    assert after["bed"]["available"] == 8 and after["bed"]["maximum"] == 10
    assert after["bed"]["updated"] == put.json()["availability_updated_at"].replace("Z", "+00:00")


def test_confidential_shelters_are_omitted_by_default(
    client: Any, auth: Callable[..., dict[str, str]], imported: None
) -> None:
    viewer = auth("viewer")
    for kind in ENDPOINTS:
        r = client.get(f"/api/v1/hsds/{kind}", headers=viewer)
        assert r.json()["total_items"] == 1
        assert "Anzin" not in r.text and not any(secret in r.text for secret in SECRETS)


def test_with_the_cell_policy_only_commune_and_cell_are_published(
    client: Any, auth: Callable[..., dict[str, str]], imported: None, cell_policy: None
) -> None:
    viewer = auth("viewer")
    texts = [client.get(f"/api/v1/hsds/{kind}", headers=viewer).text for kind in ENDPOINTS]
    for text in texts:
        assert not any(secret in text for secret in SECRETS), text
    locations = client.get("/api/v1/hsds/locations", headers=viewer).json()["contents"]
    shown = client.get("/api/v1/shelters/refuge-iris", headers=viewer).json()
    secret = next(loc for loc in locations if "Anzin" in loc["name"])
    assert (secret["latitude"], secret["longitude"]) == (shown["lat"], shown["lon"])
    assert shown["location_precision"] == "approximate"


def test_pages_and_stable_ids(
    client: Any, auth: Callable[..., dict[str, str]], imported: None, cell_policy: None
) -> None:
    viewer = auth("viewer")
    first = client.get("/api/v1/hsds/services?per_page=1", headers=viewer).json()
    second = client.get("/api/v1/hsds/services?per_page=1&page=2", headers=viewer).json()
    beyond = client.get("/api/v1/hsds/services?per_page=1&page=3", headers=viewer).json()
    assert (first["total_pages"], first["first_page"], first["last_page"]) == (2, True, False)
    assert (second["first_page"], second["last_page"], second["size"]) == (False, True, 1)
    assert beyond["empty"] is True and beyond["contents"] == []
    assert first["contents"][0]["id"] != second["contents"][0]["id"]
    again = client.get("/api/v1/hsds/services?per_page=1", headers=viewer).json()
    assert again["contents"][0]["id"] == first["contents"][0]["id"]
    one = client.get(f"/api/v1/hsds/services/{first['contents'][0]['id']}", headers=viewer)
    assert one.status_code == 200 and _valid(one.json(), schemas.SERVICE) == []
    assert client.get("/api/v1/hsds/services?per_page=0", headers=viewer).status_code == 422


def test_a_shelter_token_reads_no_export(
    client: Any, auth: Callable[..., dict[str, str]], imported: None
) -> None:
    r = client.get("/api/v1/hsds/services", headers=auth("shelter", shelter_id="chu-faubourg"))
    assert r.status_code == 403


def test_export_hsds_writes_a_tabular_package(
    tmp_path: Path, migrated_database: str, imported: None
) -> None:
    env = {**os.environ, "DATABASE_URL": migrated_database, "HSDS_CONFIDENTIAL": "cell"}
    run = subprocess.run(
        [sys.executable, "-m", "app", "export-hsds", str(tmp_path / "hsds")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    folder = tmp_path / "hsds"
    descriptor = json.loads((folder / "datapackage.json").read_text())
    assert descriptor["profile"] == "tabular-data-package"
    tables = {res["name"]: res for res in descriptor["resources"]}
    by_table = {"organization": schemas.ORGANIZATION, "location": schemas.LOCATION}
    by_table |= {"service_capacity": schemas.SERVICE_CAPACITY | {"required": ["id"]}}
    for name, schema in by_table.items():
        resource = tables[name]
        with (folder / resource["path"]).open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        header = [field["name"] for field in resource["schema"]["fields"]]
        assert rows and list(rows[0]) == header
        types = {field["name"]: field["type"] for field in resource["schema"]["fields"]}
        for row in rows:
            typed = {k: float(v) if types[k] == "number" else v for k, v in row.items() if v}
            assert _valid(typed, schema) == [], (name, row)
    text = "".join(path.read_text(encoding="utf-8") for path in folder.iterdir())
    assert not any(secret in text for secret in SECRETS)
