"""Bad input is a 422 naming the field, the same on SQLite and PostgreSQL: it never reaches
the database to come back as a 500 (run this file with ABRI_TEST_DATABASE_URL too)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import REQUEST, SHELTER


def _assert_422(r: Any, loc: list[Any]) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert loc in [e["loc"] for e in r.json()["errors"]], r.json()


def _post_raw(client: Any, path: str, body: str, headers: dict[str, str]) -> Any:
    # json.dumps escapes control characters as \u00XX, as any client library sends them.
    return client.post(
        path, content=body.encode(), headers={**headers, "Content-Type": "application/json"}
    )


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x85", "\x08"])
def test_control_character_in_a_body_string_is_422_and_nothing_is_stored(
    client: Any, auth: Any, char: str
) -> None:
    admin = auth("admin")
    body = json.dumps({**SHELTER, "address": f"12 rue{char} des Tisserands"})
    _assert_422(_post_raw(client, "/api/v1/shelters", body, admin), ["address"])
    assert client.get("/api/v1/shelters", headers=admin).json() == []


def test_control_characters_are_named_wherever_they_are_nested(
    client: Any, auth: Any, new_shelter: Any
) -> None:
    admin = auth("admin")
    shelter = new_shelter()
    rooms = [{"room_id": "rm_\u0000", "occupied_beds": 0}]
    r = client.put(f"/api/v1/shelters/{shelter['id']}/availability", json={"rooms": rooms},
                   headers=admin)  # fmt: skip
    _assert_422(r, ["rooms", 0, "room_id"])
    r = client.post("/api/v1/tokens", json={"role": "viewer", "name": "night\u0000desk"},
                    headers=admin)  # fmt: skip
    _assert_422(r, ["name"])


def test_newline_and_tab_stay_allowed_in_body_text(client: Any, auth: Any) -> None:
    r = client.post(
        "/api/v1/tokens", json={"role": "viewer", "name": "desk 2\tnight\n"}, headers=auth("admin")
    )
    assert r.status_code == 201, r.text


def test_control_character_in_a_query_value_or_a_path_id_is_422(client: Any, auth: Any) -> None:
    op = auth("operator")
    for value in ("115%00x", "115%0Ax", "%C2%85"):
        r = client.get(f"/api/v1/requests?reference={value}", headers=op)
        _assert_422(r, ["query", "reference"])
    _assert_422(client.get("/api/v1/requests/req_%00abc", headers=op), ["path", "request_id"])
    _assert_422(client.get("/api/v1/shelters/shl_%1Bx", headers=op), ["path", "shelter_id"])
    _assert_422(client.post("/api/v1/requests/req_%00/cancel", headers=op), ["path", "request_id"])


def test_control_characters_are_refused_before_the_token_is_checked(client: Any) -> None:
    r = client.get("/api/v1/requests?reference=%00", headers={"Authorization": "Bearer nope"})
    _assert_422(r, ["query", "reference"])


@pytest.mark.parametrize(
    "path", ["/api/v1/requests", "/api/v1/placements", "/api/v1/allocations", "/api/v1/audit"]
)
def test_offsets_are_bounded(client: Any, auth: Any, path: str) -> None:
    admin = auth("admin")
    _assert_422(client.get(f"{path}?offset=100000000000000000000", headers=admin),
                ["query", "offset"])  # fmt: skip
    _assert_422(client.get(f"{path}?limit=100000000000000000000", headers=admin),
                ["query", "limit"])  # fmt: skip
    assert client.get(f"{path}?offset=1000000", headers=admin).status_code == 200


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1970-01-01T00:00:00Z"]
)
def test_dates_out_of_the_service_range_are_422_not_an_overflow(
    client: Any, auth: Any, value: str
) -> None:
    admin = auth("admin")
    for name in ("since", "until"):
        r = client.get("/api/v1/audit", params={name: value}, headers=admin)
        _assert_422(r, ["query", name])
    r = client.post("/api/v1/requests", json={**REQUEST, "waiting_since": value}, headers=admin)
    _assert_422(r, ["waiting_since"])


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{not json"),
        ("application/json", b'{"reference": "115-1", '),
        ("application/json", b"\xff\xfe\x00"),
        ("text/plain", b"reference=115-1"),
        ("application/x-www-form-urlencoded", b"reference=115-1"),
    ],
)
def test_a_body_that_is_not_json_is_422_problem(
    client: Any, auth: Any, content_type: str, body: bytes
) -> None:
    r = client.post(
        "/api/v1/requests", content=body, headers={**auth("operator"), "Content-Type": content_type}
    )
    _assert_422(r, ["body"])


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def test_waiting_since_goes_back_at_most_30_days(client: Any, auth: Any) -> None:
    op = auth("operator")
    old = client.post("/api/v1/requests", json={**REQUEST, "waiting_since": _ago(days=31)},
                      headers=op)  # fmt: skip
    _assert_422(old, ["waiting_since"])
    assert "30 days" in old.json()["errors"][0]["msg"]
    ok = client.post("/api/v1/requests", json={**REQUEST, "waiting_since": _ago(days=29)},
                     headers=op)  # fmt: skip
    assert ok.status_code == 201, ok.text


def test_waiting_since_window_is_a_setting(
    client_with: Callable[..., TestClient], auth: Any
) -> None:
    client = client_with(WAITING_SINCE_MAX_DAYS=7)
    r = client.post("/api/v1/requests", json={**REQUEST, "waiting_since": _ago(days=8)},
                    headers=auth("operator"))  # fmt: skip
    _assert_422(r, ["waiting_since"])
    assert "7 days" in r.json()["errors"][0]["msg"]
