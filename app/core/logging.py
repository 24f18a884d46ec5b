"""Structured logs (structlog): JSON in production, readable on a terminal.

Nothing a client sent reaches a log line: access lines carry the path without its query
string (``?reference=…`` would name a household), and a traceback keeps its frames but not
the exception's words (a database error quotes the values of the failing row: addresses,
references, household needs). The engine hides statement parameters too
(``hide_parameters=True`` in ``app/core/db.py``).
"""

from __future__ import annotations

import copy
import logging
import sys
import traceback
from typing import Any

import structlog
from sqlalchemy.exc import DBAPIError, StatementError
from uvicorn.config import LOGGING_CONFIG as UVICORN_LOGGING_CONFIG

MAX_CHAINED = 5
MAX_STATEMENT_CHARS = 300


def exception_summary(exc: BaseException) -> str:
    """The exception's type (and SQLSTATE, SQL text), never its message."""
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
    if isinstance(exc, DBAPIError) and (state := getattr(exc.orig, "sqlstate", None)):
        kind += f" (sqlstate {state})"
    if isinstance(exc, StatementError) and exc.statement:
        # The SQL text is the service's own code; its parameters are bound, never in it.
        kind += f" [SQL: {' '.join(exc.statement.split())[:MAX_STATEMENT_CHARS]}]"
    return kind


def safe_traceback(exc: BaseException) -> str:
    """Where it failed (frames, exception types, SQL text) without what it failed on."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < MAX_CHAINED and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    parts = []
    for item in reversed(chain):  # the root cause first, as Python prints them
        frames = traceback.format_list(traceback.extract_tb(item.__traceback__))
        parts.append("Traceback (exception text withheld):\n" + "".join(frames))
        parts.append(exception_summary(item) + "\n")
    return "".join(parts).rstrip("\n")


def _exc_from_info(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1]  # type: ignore[no-any-return]
    if exc_info is True:
        return sys.exc_info()[1]
    return None


def _redact_exc_info(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor in place of ``format_exc_info``: ``log.exception`` stays safe."""
    exc = _exc_from_info(event.pop("exc_info", None))
    if exc is not None:
        event["exception"] = safe_traceback(exc)
    return event


class StripQueryString(logging.Filter):
    """uvicorn's access line without the query string (its args: client, method, path…)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


class RedactExceptionText(logging.Filter):
    """uvicorn's "Exception in ASGI application" keeps the frames, not the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            exc = record.exc_info[1]
            if exc is not None:
                record.msg = f"{record.getMessage().rstrip()}\n{safe_traceback(exc)}"
                record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


_LOGGER_FILTERS: dict[str, type[logging.Filter]] = {
    "uvicorn.access": StripQueryString,
    "uvicorn.error": RedactExceptionText,
}


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration plus the two filters above."""
    config = copy.deepcopy(UVICORN_LOGGING_CONFIG)
    config["filters"] = {
        name: {"()": f"{cls.__module__}.{cls.__qualname__}"}
        for name, cls in _LOGGER_FILTERS.items()
    }
    for name in _LOGGER_FILTERS:
        config["loggers"].setdefault(name, {})["filters"] = [name]
    return config


def _install_logger_filters() -> None:
    # Also when uvicorn was started without our log config (``uvicorn app.main:app``).
    for name, cls in _LOGGER_FILTERS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, cls) for f in logger.filters):
            logger.addFilter(cls())


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    _install_logger_filters()
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        cache_logger_on_first_use=True,
    )
