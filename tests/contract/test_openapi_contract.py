"""The API keeps its own contract: schemathesis against a live server.

Every operation of ``/openapi.json`` is called with generated inputs (a bounded number per
operation) on a real uvicorn process with the demo region loaded, as an admin. A 5xx, a
status code the document does not declare for that operation, a response that breaks its
declared schema or content type, or a declared header that is missing fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.dashboard.test_browser import Server, free_port

pytestmark = pytest.mark.postgres  # CI runs it once, on the production database

# Enough to reach each operation's error paths; ~70 operations x this many calls stays in
# a few minutes on CI's 2 cores (most calls are answered in milliseconds).
EXAMPLES_PER_OPERATION = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def live(migrated_database: str, _wipe_engine: Any) -> Iterator[tuple[Server, str]]:
    from app.auth.models import Role
    from app.auth.service import create_token
    from app.core.db import get_sessionmaker
    from app.demo.loader import load_demo
    from tests.conftest import _wipe

    _wipe(_wipe_engine)  # the harness's engine: the service role may not empty the log
    with get_sessionmaker()() as session:
        load_demo(session, "ter_59")
        _, token = create_token(session, Role.admin, "contract test", None)
        session.commit()
    server = Server(f"http://127.0.0.1:{(port := free_port())}", port, migrated_database)
    server.start()
    yield server, token
    server.stop()


def _served_document() -> dict[str, Any]:
    """The document the server serves at /openapi.json (built without a database)."""
    from app.main import create_app

    return create_app().openapi()


schema = schemathesis.openapi.from_dict(_served_document())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_keeps_its_contract(case: Any, live: tuple[Server, str]) -> None:
    server, token = live
    case.call_and_validate(
        base_url=server.url,
        headers={"Authorization": f"Bearer {token}"},
        checks=CHECKS,
    )
