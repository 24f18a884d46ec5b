"""Prometheus metrics at ``/metrics``: aggregates read from the database at scrape time.

Reading them from the database (rather than counting in process memory) makes every worker
and replica answer the same numbers, with no multiprocess bookkeeping. Only counts: no id,
no reference, no position. Serve it on an internal network (see README, Production).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.allocations.models import AllocationRun
from app.core.config import Settings, get_settings
from app.core.db import get_sessionmaker, utcnow
from app.dashboard.service import freshness_of
from app.placements.models import Placement
from app.requests.models import PlacementRequest, RequestStatus
from app.shelters.capacity import free_rooms
from app.shelters.models import Shelter
from app.territories.models import Territory

router = APIRouter(tags=["operations"])


class AbriCollector(Collector):
    """Every gauge carries a ``territory`` label (the territory's code)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        settings = get_settings()
        now = utcnow()
        with get_sessionmaker()() as session:
            codes = {
                tid: code for tid, code in session.execute(select(Territory.id, Territory.code))
            }
            yield from _requests(session, codes)
            yield from _placements(session, codes)
            yield from _shelters(session, codes, settings, now)
            yield from _runs(session, codes, now)


def _requests(session: Session, codes: dict[str, str]) -> Iterator[GaugeMetricFamily]:
    waiting = GaugeMetricFamily(
        "abri_requests_pending", "Households waiting for a bed", labels=["territory", "priority"]
    )
    counts = {
        (tid, priority): n
        for tid, priority, n in session.execute(
            select(PlacementRequest.territory_id, PlacementRequest.priority, func.count())
            .where(PlacementRequest.status == RequestStatus.pending)
            .group_by(PlacementRequest.territory_id, PlacementRequest.priority)
        )
    }
    for tid, code in sorted(codes.items(), key=lambda kv: kv[1]):
        for priority in (4, 3, 2, 1):
            waiting.add_metric([code, str(priority)], counts.get((tid, priority), 0))
    yield waiting


def _placements(session: Session, codes: dict[str, str]) -> Iterator[GaugeMetricFamily]:
    # The household's territory (a placement in a neighbour's shelter counts there).
    placements = GaugeMetricFamily(
        "abri_placements", "Placements by status", labels=["territory", "status"]
    )
    for tid, status, n in session.execute(
        select(Placement.territory_id, Placement.status, func.count())
        .group_by(Placement.territory_id, Placement.status)
        .order_by(Placement.territory_id, Placement.status)
    ):
        placements.add_metric([codes.get(tid, tid), status], n)
    yield placements


def _shelters(
    session: Session, codes: dict[str, str], settings: Settings, now: datetime
) -> Iterator[GaugeMetricFamily]:
    shelters = {
        sid: tid
        for sid, tid in session.execute(
            select(Shelter.id, Shelter.territory_id).where(Shelter.active.is_(True))
        )
    }
    beds: dict[tuple[str, bool], int] = defaultdict(int)
    for r in free_rooms(session):
        beds[(shelters.get(r.shelter_id, ""), r.shared)] += r.beds
    free = GaugeMetricFamily("abri_free_beds", "Free beds tonight", labels=["territory", "room"])
    stale: dict[str, int] = defaultdict(int)
    for tid, updated in session.execute(
        select(Shelter.territory_id, Shelter.availability_updated_at).where(
            Shelter.active.is_(True)
        )
    ):
        # The dashboard's own rule, so that an alert and the screen never disagree.
        stale[tid] += freshness_of(updated, now, settings) == "stale"
    stale_gauge = GaugeMetricFamily(
        "abri_shelters_stale",
        "Active shelters whose availability is stale",
        labels=["territory"],
    )
    for tid, code in sorted(codes.items(), key=lambda kv: kv[1]):
        free.add_metric([code, "private"], beds[(tid, False)])
        free.add_metric([code, "shared"], beds[(tid, True)])
        stale_gauge.add_metric([code], stale[tid])
    yield free
    yield stale_gauge


def _runs(session: Session, codes: dict[str, str], now: datetime) -> Iterator[GaugeMetricFamily]:
    """Each territory's newest finished run: its age, status and engine time."""
    newest = (
        select(
            AllocationRun.territory_id,
            AllocationRun.status,
            AllocationRun.finished_at,
            AllocationRun.engine_wall_s,
            func.row_number()
            .over(
                partition_by=AllocationRun.territory_id,
                order_by=(AllocationRun.finished_at.desc(), AllocationRun.id.desc()),
            )
            .label("n"),
        )
        .where(AllocationRun.finished_at.is_not(None))
        .subquery()
    )
    rows = session.execute(
        select(newest.c.territory_id, newest.c.status, newest.c.finished_at, newest.c.engine_wall_s)
        .where(newest.c.n == 1)
        .order_by(newest.c.territory_id)
    ).all()
    if not rows:
        return
    age = GaugeMetricFamily(
        "abri_last_allocation_age_seconds",
        "Seconds since the territory's newest allocation run finished",
        labels=["territory", "status"],
    )
    engine = GaugeMetricFamily(
        "abri_last_allocation_engine_seconds",
        "Engine wall time of the territory's newest run",
        labels=["territory"],
    )
    for tid, status, finished_at, wall_s in rows:
        age.add_metric([codes.get(tid, tid), status], (now - finished_at).total_seconds())
        if wall_s is not None:
            engine.add_metric([codes.get(tid, tid)], wall_s)
    yield age
    yield engine


_registry = CollectorRegistry(auto_describe=False)
_registry.register(AbriCollector())


@router.get(
    "/metrics",
    summary="Prometheus metrics (aggregates only)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}},
)
def metrics() -> Response:
    return Response(generate_latest(_registry), media_type=CONTENT_TYPE_LATEST)
