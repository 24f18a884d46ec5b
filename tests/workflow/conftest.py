from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest


@pytest.fixture(autouse=True)
def fast_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Small engine time limits keep the workflow suite quick."""
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "allocation_time_limit_s", 2.0)
    yield


@pytest.fixture
def engine_target(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``engine_target("crash")``: this worker's engine process runs
    ``tests.workflow.engines.crash`` instead of ``allocation.solve``."""
    from app.allocations import runner

    def _use(name: str) -> None:
        monkeypatch.setattr(runner.get_runner(), "target", f"tests.workflow.engines:{name}")

    return _use
