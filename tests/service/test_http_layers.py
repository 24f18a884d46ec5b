"""The layers every request passes (app/core/middleware.py): security headers on every
answer, the request body limit, and /docs without a CDN."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.testclient import TestClient

from app.main import create_app

MIB = 1024 * 1024


def _assert_security_headers(r: Any, what: str) -> None:
    h = r.headers
    assert h.get("x-content-type-options") == "nosniff", what
    assert "frame-ancestors 'none'" in h.get("content-security-policy", ""), what
    assert h.get("x-frame-options") == "DENY", what
    assert h.get("referrer-policy") == "no-referrer", what


def test_every_kind_of_answer_carries_the_security_headers(
    client: Any, auth: Any, new_shelter: Any
) -> None:
    admin = auth("admin")
    shelter = new_shelter(confidential=True)
    path = f"/api/v1/shelters/{shelter['id']}"
    etag = client.get(path, headers=admin).headers["etag"]
    app = client.app

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    answers = {
        "200 with a confidential address": client.get(path, headers=admin),
        "304": client.get(path, headers={**admin, "If-None-Match": etag}),
        "401": client.get("/api/v1/me"),
        "404": client.get("/api/v1/shelters/shl_nope", headers=admin),
        "422": client.post("/api/v1/requests", json={}, headers=auth("operator")),
        "413": client.post("/api/v1/requests", content=b"x" * (MIB + 1), headers=admin),
        "500": client.get("/boom"),
        "healthz": client.get("/healthz"),
        "metrics": client.get("/metrics"),
        "dashboard page": client.get("/dashboard"),
        "docs page": client.get("/docs"),
    }
    for what, r in answers.items():
        _assert_security_headers(r, what)
    assert answers["304"].status_code == 304 and answers["500"].status_code == 500
    for what in ("200 with a confidential address", "304", "401", "404", "422", "413", "500"):
        assert answers[what].headers["cache-control"] == "no-store", what


def test_polled_documents_are_not_stored_by_the_browser(client: Any, auth: Any) -> None:
    r = client.get("/api/v1/dashboard/summary", headers=auth("viewer"))
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    again = client.get(
        "/api/v1/dashboard/summary",
        headers={**auth("viewer"), "If-None-Match": r.headers["etag"]},
    )
    assert again.status_code == 304 and again.headers["cache-control"] == "no-store"


def test_a_route_cannot_drop_nosniff(client: Any) -> None:
    app = client.app

    @app.get("/sniffable")
    def sniffable() -> Any:
        from fastapi.responses import PlainTextResponse

        return PlainTextResponse("x", headers={"X-Content-Type-Options": "whatever"})

    assert client.get("/sniffable").headers["x-content-type-options"] == "nosniff"


# --- /docs -----------------------------------------------------------------------------


def test_docs_page_loads_nothing_from_another_site(client: Any) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    # Every URL the page refers to is on this server.
    refs = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert refs and all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs
    assert "cdn" not in page.text.lower()
    for ref in refs:
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 100, ref
    bundle = client.get("/docs/static/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in bundle.text
    csp = page.headers["content-security-policy"]
    script_src = csp.split("script-src")[1].split(";")[0]
    assert script_src.strip() == "'self'"  # no inline script next to a pasted token


def test_docs_static_serves_only_its_own_files(client: Any) -> None:
    for name in ("..%2Fdocs.py", "redoc.standalone.js", "index.html"):
        assert client.get(f"/docs/static/{name}").status_code == 404, name


def test_docs_can_be_switched_off(client_with: Callable[..., TestClient]) -> None:
    off = client_with(DOCS_ENABLED="false")
    assert off.get("/docs").status_code == 404
    assert off.get("/docs/static/swagger-ui-bundle.js").status_code == 404
    assert off.get("/openapi.json").status_code == 200  # the contract stays readable


# --- body size limit ---------------------------------------------------------------------


def test_body_over_the_limit_is_413_problem_before_the_token_is_checked(client: Any) -> None:
    # A bad token would be 401: the 413 comes first, without any authentication work.
    r = client.post(
        "/api/v1/requests",
        content=b'{"reference": "' + b"x" * MIB + b'"}',
        headers={"Authorization": "Bearer abri_not_a_token", "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 413 and str(MIB) in r.json()["detail"]


def test_body_limit_is_a_setting(client_with: Callable[..., TestClient], auth: Any) -> None:
    small = client_with(MAX_BODY_BYTES=4096)
    admin = auth("admin")
    over = small.post("/api/v1/tokens", content=b"{" + b" " * 5000 + b"}", headers=admin)
    assert over.status_code == 413
    under = small.post(
        "/api/v1/tokens", json={"role": "viewer", "name": "v" * 100}, headers=admin
    )
    assert under.status_code == 201


def _asgi_call(
    app: Any, headers: list[tuple[bytes, bytes]], chunks: Iterator[bytes]
) -> tuple[int, int, bytes]:
    """Drive the ASGI app directly: (status, body messages the app pulled, response body)."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/v1/requests", "raw_path": b"/api/v1/requests",
        "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], pulled, body


def test_declared_length_over_the_limit_is_refused_without_reading_the_body(db: None) -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"x" * 65536

    status, pulled, body = _asgi_call(
        create_app(),
        [(b"content-length", str(5 * MIB).encode()), (b"content-type", b"application/json")],
        endless(),
    )
    assert status == 413 and pulled == 0
    assert b'"status":413' in body


def test_streamed_body_is_cut_off_at_the_limit(db: None) -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"x" * 65536

    status, pulled, body = _asgi_call(
        create_app(),
        [(b"content-type", b"application/json"), (b"authorization", b"Bearer abri_nope")],
        endless(),
    )
    assert status == 413 and b'"status":413' in body
    assert pulled <= MIB // 65536 + 1  # stopped reading at the limit, not at the end
