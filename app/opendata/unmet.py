"""Requests left unmet, night by night and by household type ("demandes non pourvues").

A night ``D`` is the SIAO day from ``D`` 12:00 to ``D+1`` 12:00 in ``SIAO_TIMEZONE``: the
evening, the night and the morning after. A request counts on that night if it was open
and without a bed at some moment of it: waiting since before the night's end, not closed before
its start, not housed before its start. It was *met* if it got a bed before the night's end
(a placement accepted or arrived, and not later declined or expired); otherwise *unmet*,
including a request cancelled during the night without a bed. A household waiting three
nights is unmet on each of them, as the 115's daily counts have it.

After ``RETENTION_DAYS`` a closed request keeps no composition: it is counted as
``unknown`` (the report never holds more than counts).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.placements.models import Placement, PlacementStatus
from app.requests.models import PlacementRequest

ADULT_AGE = 18
NIGHT_STARTS = time(12, 0)
MAX_NIGHTS = 366
HOUSEHOLD_TYPES = (
    "single_woman",
    "single_man",
    "couple",
    "mother_with_children",
    "father_with_children",
    "family",
    "adults_group",
    "unknown",
)
# Placements that gave the household a bed (ended: it had one, then left).
_HOUSED = (PlacementStatus.accepted, PlacementStatus.arrived, PlacementStatus.ended)
CSV_COLUMNS = ("night", "household_type", "requests", "met", "unmet", "people_unmet")


@dataclass(frozen=True)
class UnmetRow:
    night: date
    household_type: str
    requests: int
    met: int
    unmet: int
    people_unmet: int


def household_type(members: list[dict[str, Any]] | None) -> str:
    if not members:
        return "unknown"
    adults = [m for m in members if int(m.get("age", ADULT_AGE)) >= ADULT_AGE]
    minors = len(members) - len(adults)
    if not adults:
        return "unknown"  # refused at creation; only a hand-edited row could hold it
    if len(adults) == 1:
        woman = adults[0].get("sex") == "F"
        if minors:
            return "mother_with_children" if woman else "father_with_children"
        return "single_woman" if woman else "single_man"
    if minors:
        return "family"
    return "couple" if len(adults) == 2 else "adults_group"


def night_window(night: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(night, NIGHT_STARTS, tzinfo=zone)
    return start, datetime.combine(night + timedelta(days=1), NIGHT_STARTS, tzinfo=zone)


def unmet_report(
    session: Session, first: date, last: date, zone: ZoneInfo, territory_id: str | None = None
) -> list[UnmetRow]:
    """One row per (night, household type) with at least one request, nights in order: the
    territory's requests (a household housed in a neighbour's shelter counts as housed)."""
    start, _ = night_window(first, zone)
    _, end = night_window(last, zone)
    query = select(PlacementRequest).where(
        PlacementRequest.waiting_since < end,
        or_(PlacementRequest.closed_at.is_(None), PlacementRequest.closed_at >= start),
    )
    if territory_id is not None:
        query = query.where(PlacementRequest.territory_id == territory_id)
    requests = list(session.scalars(query))
    housed = _housed_at(session, [r.id for r in requests])
    rows: list[UnmetRow] = []
    night = first
    while night <= last:
        rows.extend(_night_rows(night, *night_window(night, zone), requests, housed))
        night += timedelta(days=1)
    return rows


def _housed_at(session: Session, request_ids: list[str]) -> dict[str, datetime]:
    """When each request first got a bed that it kept (accepted or arrived)."""
    housed: dict[str, datetime] = {}
    if not request_ids:
        return housed
    query = select(Placement.request_id, Placement.accepted_at, Placement.arrived_at).where(
        Placement.request_id.in_(request_ids), Placement.status.in_([s.value for s in _HOUSED])
    )
    for request_id, accepted_at, arrived_at in session.execute(query):
        moment = accepted_at or arrived_at
        if moment is not None and (request_id not in housed or moment < housed[request_id]):
            housed[request_id] = moment
    return housed


def _night_rows(
    night: date,
    start: datetime,
    end: datetime,
    requests: Iterable[PlacementRequest],
    housed: dict[str, datetime],
) -> list[UnmetRow]:
    counts: Counter[tuple[str, str]] = Counter()
    people: Counter[str] = Counter()
    for req in requests:
        bed_at = housed.get(req.id)
        if req.waiting_since >= end or (req.closed_at is not None and req.closed_at < start):
            continue
        if bed_at is not None and bed_at < start:
            continue  # already in a bed when the night began
        kind = household_type(req.members)
        if bed_at is not None and bed_at < end:
            counts[(kind, "met")] += 1
        else:
            counts[(kind, "unmet")] += 1
            people[kind] += len(req.members or [])
    return [
        UnmetRow(
            night=night,
            household_type=kind,
            requests=counts[(kind, "met")] + counts[(kind, "unmet")],
            met=counts[(kind, "met")],
            unmet=counts[(kind, "unmet")],
            people_unmet=people[kind],
        )
        for kind in HOUSEHOLD_TYPES
        if counts[(kind, "met")] + counts[(kind, "unmet")]
    ]


def as_csv(rows: Iterable[UnmetRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        counts = (row.requests, row.met, row.unmet, row.people_unmet)
        writer.writerow([row.night.isoformat(), row.household_type, *counts])
    return out.getvalue()
