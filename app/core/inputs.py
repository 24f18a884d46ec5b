"""Input rules shared by every endpoint: no control characters, bounded pages and dates.

What the database would otherwise decide differently per backend (PostgreSQL refuses a NUL
in text with an error, SQLite stores it; a 20-digit offset overflows SQLite's integers; a
year-1 date with an offset overflows on conversion to UTC) is refused here first, as a 422
naming the field, the same on both.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import AfterValidator, AwareDatetime

from app.core.errors import validation_problem

# In bodies, tab, newline and carriage return are text (a multi-line note); in path ids and
# query values nothing below U+0020 is. DEL and the C1 block (U+0080-U+009F) never are.
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_URL_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A body without one of these cannot hold a refused character (valid JSON has no raw C0
# byte in a string), so most bodies are not parsed a second time.
_BODY_MAY_HOLD_CONTROL = re.compile(
    rb"\\u00[01][0-9a-fA-F]|\\u00[89][0-9a-fA-F]|\\u007[fF]|\\[bf]|\x7f|\xc2[\x80-\x9f]"
)
CONTROL_MSG = "must not contain control characters"


def _walk(value: Any, loc: list[str | int], errors: list[dict[str, Any]]) -> None:
    if isinstance(value, str):
        if _BODY_CONTROL.search(value):
            errors.append({"loc": loc or ["body"], "msg": CONTROL_MSG})
    elif isinstance(value, dict):
        for key, item in value.items():
            if _BODY_CONTROL.search(key):
                errors.append({"loc": [*loc, "(key)"], "msg": CONTROL_MSG})
            _walk(item, [*loc, key], errors)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, [*loc, index], errors)


def _body_errors(body: bytes) -> list[dict[str, Any]]:
    if not body or not _BODY_MAY_HOLD_CONTROL.search(body):
        return []
    try:
        data = json.loads(body)
    except ValueError:
        return []  # not JSON: the endpoint's own parsing answers 422 for it
    errors: list[dict[str, Any]] = []
    _walk(data, [], errors)
    return errors


async def refuse_control_characters(request: Request) -> None:
    """An application-wide dependency (runs before authentication and the endpoint)."""
    errors: list[dict[str, Any]] = []
    for name, value in request.path_params.items():
        if isinstance(value, str) and _URL_CONTROL.search(value):
            errors.append({"loc": ["path", name], "msg": CONTROL_MSG})
    for name, value in request.query_params.multi_items():
        if _URL_CONTROL.search(name) or _URL_CONTROL.search(value):
            errors.append({"loc": ["query", name], "msg": CONTROL_MSG})
    if request.method in {"POST", "PUT", "PATCH"}:
        errors.extend(_body_errors(await request.body()))
    if errors:
        raise validation_problem(errors)


# --- bounded pages and dates -----------------------------------------------------------------

# Far beyond any real page, far below any integer overflow.
MAX_OFFSET = 1_000_000
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")]

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


DATE_RANGE_MSG = f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}"


def _service_date(value: datetime) -> datetime:
    # Judged in UTC, the conversion that would overflow at year 1 or 9999.
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(DATE_RANGE_MSG) from None
    if not EARLIEST <= utc <= LATEST:
        raise ValueError(DATE_RANGE_MSG)
    return utc


# An aware datetime between 2000 and 2100, in UTC.
ServiceDatetime = Annotated[AwareDatetime, AfterValidator(_service_date)]
