"""The cross-cutting ASGI layers every request passes: a body size limit and security headers.

Pure ASGI rather than ``BaseHTTPMiddleware``: each costs a header lookup per request. They
wrap the whole application, outside Starlette's error middleware, so that a 500 and a 413
carry the same headers as any other answer (``AbriApp.build_middleware_stack``).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import problem_response

# Set on every response unless the route chose its own (pages set a fuller CSP; static
# files are cacheable). ``no-store``: API answers carry personal or confidential data, and
# clients that poll send If-None-Match themselves, so nothing needs a browser cache.
DEFAULT_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)


class BodyTooLarge(StarletteHTTPException):
    """Raised by the limited ``receive``; FastAPI passes HTTP exceptions through as they are."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


def _declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None  # the server's HTTP parser refuses such a request before us


class BodySizeLimit:
    """413 problem+json for a body over ``max_bytes``.

    A declared ``Content-Length`` over the limit is answered before the application runs:
    no routing, no token lookup, no body read. A streamed (chunked) body is counted as it
    arrives and cut off at the limit; whatever the application was doing, the client gets
    the 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        if declared is not None:
            await self.app(scope, receive, send)  # the server stops at Content-Length
            return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        overflowed = started = False

        async def limited_receive() -> Message:
            nonlocal received, overflowed
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    overflowed = True
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if overflowed:
                # The application's own answer to the cut-off body (a 400, a 500) is dropped.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._too_large(scope, receive, send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                started = True
                await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            f"The request body is larger than {self.max_bytes} bytes.",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


class SecurityHeaders:
    """Adds ``DEFAULT_HEADERS`` a response does not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in DEFAULT_HEADERS:
                    if name not in headers:
                        headers[name] = value
                headers["X-Content-Type-Options"] = "nosniff"  # never weakened by a route
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AbriApp(FastAPI):
    """FastAPI with the layers above wrapped around everything, error middleware included."""

    max_body_bytes: int = 1024 * 1024

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(BodySizeLimit(super().build_middleware_stack(), self.max_body_bytes))
