"""A territory is edited as every other object is: its ETag, ``If-Match`` required on a
rename and on a change of neighbours (428 without it, 412 and no change when stale)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.territories.conftest import bearer


@pytest.fixture
def pdc(client: Any, national: dict[str, str]) -> dict[str, Any]:
    r = client.post(
        "/api/v1/territories", json={"code": "62", "name": "Pas-de-Calais"}, headers=national
    )
    assert r.status_code == 201, r.text
    return {**r.json(), "etag": r.headers["etag"]}


def _read(client: Any, national: dict[str, str], code: str) -> tuple[dict[str, Any], str]:
    r = client.get(f"/api/v1/territories/{code}", headers=national)
    assert r.status_code == 200, r.text
    return r.json(), r.headers["etag"]


def test_a_territory_carries_its_etag_and_answers_304(
    client: Any, national: dict[str, str], pdc: dict[str, Any]
) -> None:
    body, etag = _read(client, national, "62")
    assert etag == pdc["etag"] and etag.endswith(f'-v{body["version"]}"')
    r = client.get("/api/v1/territories/62", headers={**national, "If-None-Match": etag})
    assert r.status_code == 304 and r.headers["etag"] == etag


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/api/v1/territories/62", {"name": "Pas de Calais"}),
        ("PUT", "/api/v1/territories/62/neighbours", {"neighbours": ["59"]}),
    ],
)
def test_an_edit_without_if_match_or_with_a_stale_one_changes_nothing(
    client: Any,
    national: dict[str, str],
    pdc: dict[str, Any],
    method: str,
    path: str,
    body: dict[str, Any],
) -> None:
    before, etag = _read(client, national, "62")
    missing = client.request(method, path, json=body, headers=national)
    assert missing.status_code == 428, missing.text
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.headers["etag"] == etag  # what to send back
    assert _read(client, national, "62") == (before, etag)

    done = client.request(method, path, json=body, headers={**national, "If-Match": etag})
    assert done.status_code == 200, done.text
    after, new_etag = _read(client, national, "62")
    assert done.headers["etag"] == new_etag != etag
    assert after["version"] == before["version"] + 1

    stale = client.request(method, path, json=body, headers={**national, "If-Match": etag})
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert stale.headers["etag"] == new_etag
    assert _read(client, national, "62") == (after, new_etag)


def test_a_stale_neighbour_change_does_not_undo_a_newer_one(
    client: Any, national: dict[str, str], pdc: dict[str, Any]
) -> None:
    """Two national desks read the Pas-de-Calais; one adds the Nord, the other (with its old
    copy) would have removed it without knowing."""
    _, etag = _read(client, national, "62")
    first = client.put(
        "/api/v1/territories/62/neighbours",
        json={"neighbours": ["59"]},
        headers={**national, "If-Match": etag},
    )
    assert first.status_code == 200
    second = client.put(
        "/api/v1/territories/62/neighbours",
        json={"neighbours": []},
        headers={**national, "If-Match": etag},
    )
    assert second.status_code == 412
    assert _read(client, national, "62")[0]["neighbours"] == ["59"]


def test_delete_honours_if_match(
    client: Any, national: dict[str, str], pdc: dict[str, Any]
) -> None:
    stale = '"ter_x-v99"'
    r = client.delete("/api/v1/territories/62", headers={**national, "If-Match": stale})
    assert r.status_code == 412
    r = client.delete("/api/v1/territories/62", headers={**national, "If-Match": pdc["etag"]})
    assert r.status_code == 204
    assert client.get("/api/v1/territories/62", headers=national).status_code == 404


def test_a_territory_admin_still_gets_403_before_any_precondition(
    client: Any, make_token: Any
) -> None:
    admin = bearer(make_token("admin"))  # the Nord's (the only territory yet)
    r = client.patch("/api/v1/territories/59", json={"name": "x"}, headers=admin)
    assert r.status_code == 403


def test_concurrent_renames_with_one_etag_one_wins(
    client: Any, national: dict[str, str], pdc: dict[str, Any]
) -> None:
    _, etag = _read(client, national, "62")
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def rename(i: int) -> None:
        barrier.wait()
        r = client.patch(
            "/api/v1/territories/62",
            json={"name": f"Pas-de-Calais {i}"},
            headers={**national, "If-Match": etag},
        )
        codes.append(r.status_code)

    threads = [threading.Thread(target=rename, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 412, 412, 412]
    assert _read(client, national, "62")[0]["version"] == 2
