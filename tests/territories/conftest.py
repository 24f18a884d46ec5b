"""Two territories on one deployment: the Nord (59, the suite's own) and the Pas-de-Calais
(62), each with a shelter, a room, a waiting household, a run and its tokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.service.conftest import REQUEST, SHELTER


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Side:
    code: str
    admin: dict[str, str]
    operator: dict[str, str]
    viewer: dict[str, str]
    shelter_staff: dict[str, str] = field(default_factory=dict)
    shelter: dict[str, Any] = field(default_factory=dict)
    room: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def national(make_token: Callable[..., str]) -> dict[str, str]:
    from app.auth.models import Role
    from app.auth.service import create_token
    from app.core.db import get_sessionmaker

    with get_sessionmaker()() as s:
        _, plaintext = create_token(s, Role.admin, "national admin", national=True)
        s.commit()
    return bearer(plaintext)


def new_token(
    client: Any, national: dict[str, str], code: str, role: str, **body: Any
) -> dict[str, str]:
    r = client.post(
        "/api/v1/tokens",
        json={"role": role, "name": f"{code} {role}", "territory": code, **body},
        headers=national,
    )
    assert r.status_code == 201, r.text
    return bearer(r.json()["token"])


def populate(client: Any, side: Side, *, lat: float, lon: float, commune: str) -> None:
    """A shelter with a room, its staff's token, a pending household, a run (which places
    it), all through the API as each role would."""
    r = client.post(
        "/api/v1/shelters",
        json={**SHELTER, "name": f"CHU {commune}", "lat": lat, "lon": lon, "commune": commune},
        headers=side.admin,
    )
    assert r.status_code == 201, r.text
    side.shelter = r.json()
    r = client.post(
        f"/api/v1/shelters/{side.shelter['id']}/rooms",
        json={"label": "R1", "beds": 2},
        headers=side.admin,
    )
    assert r.status_code == 201, r.text
    side.room = r.json()
    r = client.post(
        "/api/v1/tokens",
        json={"role": "shelter", "name": "staff", "shelter_id": side.shelter["id"]},
        headers=side.admin,
    )
    assert r.status_code == 201, r.text
    side.shelter_staff = bearer(r.json()["token"])
    r = client.post(
        "/api/v1/requests",
        json={**REQUEST, "reference": f"115-{side.code}-1", "origin": {"lat": lat, "lon": lon}},
        headers=side.operator,
    )
    assert r.status_code == 201, r.text
    side.request = r.json()
    r = client.post("/api/v1/allocations", headers=side.operator)
    assert r.status_code == 201, r.text
    side.run = r.json()


@pytest.fixture
def two_territories(
    client: Any, national: dict[str, str], make_token: Callable[..., str]
) -> tuple[Side, Side]:
    """59 (Valenciennes) and 62 (Arras), not neighbours: nothing of one is the other's."""
    nord = Side(
        "59",
        admin=bearer(make_token("admin")),
        operator=bearer(make_token("operator")),
        viewer=bearer(make_token("viewer")),
    )
    r = client.post(
        "/api/v1/territories", json={"code": "62", "name": "Pas-de-Calais"}, headers=national
    )
    assert r.status_code == 201, r.text
    pdc = Side(
        "62",
        admin=new_token(client, national, "62", "admin"),
        operator=new_token(client, national, "62", "operator"),
        viewer=new_token(client, national, "62", "viewer"),
    )
    populate(client, nord, lat=50.357, lon=3.523, commune="Valenciennes")
    populate(client, pdc, lat=50.29, lon=2.78, commune="Arras")
    return nord, pdc
