"""Helpers for the service tests: a valid shelter, room and request in one call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

SHELTER: dict[str, Any] = {
    "name": "CHU du Faubourg",
    "kind": "chu",
    "lat": 50.357,
    "lon": 3.523,
    "women": True,
    "men": True,
    "children": True,
    "max_boy_age": None,
    "languages": ["fr"],
    "address": "12 rue des Tisserands",
    "commune": "Valenciennes",
    "intake_phone": "+33 3 53 01 00 01",
    "confidential": False,
}

REQUEST: dict[str, Any] = {
    "reference": "115-2026-000001",
    "priority": 3,
    "origin": {"lat": 50.33, "lon": 3.40},
    "max_km": 80,
    "members": [{"age": 31, "sex": "F"}, {"age": 4, "sex": "M"}],
    "needs": {"dv_specialised": False, "secure": False, "wheelchair": False, "pets": False},
}


@pytest.fixture
def admin(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth("admin")


@pytest.fixture
def operator(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth("operator")


@pytest.fixture
def new_shelter(client: Any, admin: dict[str, str]) -> Callable[..., dict[str, Any]]:
    def _make(**overrides: Any) -> dict[str, Any]:
        r = client.post("/api/v1/shelters", json={**SHELTER, **overrides}, headers=admin)
        assert r.status_code == 201, r.text
        return r.json()

    return _make


@pytest.fixture
def new_room(client: Any, admin: dict[str, str]) -> Callable[..., dict[str, Any]]:
    def _make(shelter_id: str, **fields: Any) -> dict[str, Any]:
        body = {"label": "R1", "beds": 2, **fields}
        r = client.post(f"/api/v1/shelters/{shelter_id}/rooms", json=body, headers=admin)
        assert r.status_code == 201, r.text
        return r.json()

    return _make


@pytest.fixture
def new_request(client: Any, operator: dict[str, str]) -> Callable[..., dict[str, Any]]:
    def _make(**overrides: Any) -> dict[str, Any]:
        r = client.post("/api/v1/requests", json={**REQUEST, **overrides}, headers=operator)
        assert r.status_code == 201, r.text
        return r.json()

    return _make


@pytest.fixture
def client_with(monkeypatch: pytest.MonkeyPatch, db: None) -> Iterator[Callable[..., Any]]:
    """A client for an application built with these environment settings."""
    from fastapi.testclient import TestClient

    from app.core.config import get_settings
    from app.main import create_app

    def _make(**env: object) -> TestClient:
        for name, value in env.items():
            monkeypatch.setenv(name, str(value))
        get_settings.cache_clear()
        return TestClient(create_app(), raise_server_exceptions=False)

    yield _make
    monkeypatch.undo()
    get_settings.cache_clear()
