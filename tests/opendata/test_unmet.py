"""The unmet-requests report: who was left without a bed, night by night."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARIS = ZoneInfo("Europe/Paris")
WOMAN = [{"age": 30, "sex": "F"}]
MAN = [{"age": 40, "sex": "M"}]
MOTHER_AND_TWO = [{"age": 30, "sex": "F"}, {"age": 6, "sex": "M"}, {"age": 2, "sex": "F"}]
FATHER_AND_ONE = [{"age": 35, "sex": "M"}, {"age": 9, "sex": "F"}]
COUPLE = [{"age": 30, "sex": "F"}, {"age": 31, "sex": "M"}]
FAMILY = [{"age": 30, "sex": "F"}, {"age": 31, "sex": "M"}, {"age": 1, "sex": "M"}]


def at(day: int, hour: int) -> datetime:
    """A moment in November 2026, Paris time (day 11 at 01:00 is the night of the 10th)."""
    return datetime(2026, 11, day, hour, tzinfo=PARIS)


@pytest.fixture
def night(session: Any) -> Any:
    """Seven households around the night of 10 November 2026."""
    from app.placements.models import Placement
    from app.requests.models import PlacementRequest
    from app.shelters.models import Shelter

    session.add(
        Shelter(
            territory_id="ter_59",
            id="s1",
            name="CHU",
            kind="chu",
            lat=50.0,
            lon=3.0,
            women=True,
            men=True,
            children=True,
            commune="Valenciennes",
            languages=[],
            version=1,
        )
    )

    def request(rid: str, members: list[dict[str, Any]], since: datetime, **kw: Any) -> None:
        session.add(
            PlacementRequest(
                territory_id="ter_59",
                id=rid,
                reference=rid,
                priority=3,
                status=kw.pop("status", "pending"),
                waiting_since=since,
                created_at=since,
                members=members,
                **kw,
            )
        )

    def placement(rid: str, status: str, accepted: datetime, **kw: Any) -> None:
        session.flush()  # its request first: no ORM relationship orders the two inserts
        session.add(
            Placement(
                territory_id="ter_59",
                id=f"p-{rid}",
                request_id=rid,
                shelter_id="s1",
                status=status,
                km=1.0,
                accepted_at=accepted,
                **kw,
            )
        )

    request("still-waiting", WOMAN, at(10, 20))
    request("housed-at-1am", MOTHER_AND_TWO, at(10, 21), status="accepted")
    placement("housed-at-1am", "accepted", at(11, 1))
    request("gave-up", MAN, at(10, 22), status="cancelled", closed_at=at(11, 2))
    request("came-next-day", COUPLE, at(11, 13))
    request("housed-night-before", FAMILY, at(9, 20), status="arrived")
    placement("housed-night-before", "arrived", at(9, 23), arrived_at=at(9, 23))
    request("purged", [], at(10, 19), status="cancelled", closed_at=at(11, 3))
    request("no-show", FATHER_AND_ONE, at(10, 20))
    placement("no-show", "declined", at(10, 23))
    session.commit()
    return session


def _rows(report: dict[str, Any], night: str) -> dict[str, tuple[int, int, int]]:
    return {
        r["household_type"]: (r["requests"], r["met"], r["unmet"])
        for r in report["rows"]
        if r["night"] == night
    }


def test_each_household_is_counted_on_the_nights_it_waited(
    client: Any, auth: Callable[..., dict[str, str]], night: Any
) -> None:
    r = client.get("/api/v1/reports/unmet?from=2026-11-10&to=2026-11-11", headers=auth("viewer"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert _rows(report, "2026-11-10") == {
        "single_woman": (1, 0, 1),
        "single_man": (1, 0, 1),  # cancelled during the night without a bed: unmet
        "mother_with_children": (1, 1, 0),  # housed at 01:00: met
        "father_with_children": (1, 0, 1),  # a declined placement is no bed
        "unknown": (1, 0, 1),  # purged: counted, no composition left
    }
    assert _rows(report, "2026-11-11") == {
        "single_woman": (1, 0, 1),  # still waiting: unmet again
        "couple": (1, 0, 1),
        "father_with_children": (1, 0, 1),
    }
    assert report["totals"]["unmet"] == 7 and report["totals"]["met"] == 1
    people = {r["household_type"]: r["people_unmet"] for r in report["rows"]}
    assert people["father_with_children"] == 2


def test_the_same_report_as_csv(
    client: Any, auth: Callable[..., dict[str, str]], night: Any
) -> None:
    r = client.get("/api/v1/reports/unmet?from=2026-11-10&format=csv", headers=auth("operator"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["household_type"]: row["unmet"] for row in rows}["single_woman"] == "1"
    assert {row["night"] for row in rows} == {"2026-11-10"}


@pytest.mark.parametrize(
    "query",
    ["from=2026-11-10&to=2026-11-09", "from=2026-01-01&to=2027-06-01", "from=10-11-2026"],
)
def test_bad_ranges_are_422(
    client: Any, auth: Callable[..., dict[str, str]], db: None, query: str
) -> None:
    r = client.get(f"/api/v1/reports/unmet?{query}", headers=auth("viewer"))
    assert r.status_code == 422 and r.json()["errors"]


def test_report_unmet_on_the_command_line(migrated_database: str, night: Any) -> None:
    env = {**os.environ, "DATABASE_URL": migrated_database}
    run = subprocess.run(
        [sys.executable, "-m", "app", "report", "unmet", "--from", "2026-11-11"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert {row["household_type"] for row in rows} == {
        "single_woman",
        "couple",
        "father_with_children",
    }
    bad = subprocess.run(
        [sys.executable, "-m", "app", "report", "unmet", "--from", "yesterday"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
