"""A small directory as the two CSV files an SIAO would export from its spreadsheet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
SHELTERS_CSV = (DATA / "shelters.csv").read_text(encoding="utf-8")
ROOMS_CSV = (DATA / "rooms.csv").read_text(encoding="utf-8")


@pytest.fixture
def import_files(client: Any, auth: Callable[..., dict[str, str]]) -> Callable[..., Any]:
    admin = auth("admin")

    def _post(shelters: str = SHELTERS_CSV, rooms: str = ROOMS_CSV, **extra: Any) -> Any:
        body = {"shelters_csv": shelters, "rooms_csv": rooms, **extra}
        return client.post("/api/v1/imports/directory", json=body, headers=admin)

    return _post
