from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def fast_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Small engine time limits keep the workflow suite quick."""
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "allocation_time_limit_s", 2.0)
    yield
