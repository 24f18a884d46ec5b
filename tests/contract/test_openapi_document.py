"""/openapi.json declares what the shared machinery answers and reads, on every operation."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.errors import PROBLEM_JSON


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    from app.main import create_app

    return create_app().openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_token_and_database_answers_are_declared_everywhere(document: dict[str, Any]) -> None:
    for path, method, op in _operations(document):
        if not path.startswith("/api/"):
            continue
        missing = {"401", "403", "503"} - set(op["responses"])
        assert not missing, f"{method.upper()} {path} does not declare {sorted(missing)}"


def test_bad_input_is_declared_as_problem_json(document: dict[str, Any]) -> None:
    for path, method, op in _operations(document):
        if "requestBody" in op:
            assert "413" in op["responses"], f"{method.upper()} {path}: no 413"
        if "422" in op["responses"]:
            content = op["responses"]["422"]["content"]
            assert list(content) == [PROBLEM_JSON], f"{method.upper()} {path}: {list(content)}"


def test_conditional_headers_are_declared_where_they_are_read(document: dict[str, Any]) -> None:
    def headers(op: dict[str, Any]) -> set[str]:
        return {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}

    latest = document["paths"]["/api/v1/allocations/latest"]["get"]
    assert "If-None-Match" in headers(latest) and "304" in latest["responses"]
    assert "ETag" in latest["responses"]["200"]["headers"]
    room = document["paths"]["/api/v1/rooms/{room_id}"]["patch"]
    assert "If-Match" in headers(room) and "412" in room["responses"]
    for path, method, op in _operations(document):
        if "304" in op["responses"]:
            assert "If-None-Match" in headers(op), f"{method.upper()} {path}"
        if "412" in op["responses"] or "428" in op["responses"]:
            assert "If-Match" in headers(op), f"{method.upper()} {path}"


def test_metrics_are_declared_as_prometheus_text(document: dict[str, Any]) -> None:
    assert list(document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == [
        "text/plain"
    ]
