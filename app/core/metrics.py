"""Prometheus metrics at ``/metrics``: aggregates read from the database at scrape time.

Reading them from the database (rather than counting in process memory) makes every worker
and replica answer the same numbers, with no multiprocess bookkeeping. Only counts: no id,
no reference, no position. Serve it on an internal network (see README, Production).
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from app.allocations.models import AllocationRun
from app.core.config import get_settings
from app.core.db import get_sessionmaker, utcnow
from app.dashboard.service import freshness_of
from app.placements.models import Placement
from app.requests.models import PlacementRequest, RequestStatus
from app.shelters.capacity import free_rooms
from app.shelters.models import Shelter

router = APIRouter(tags=["operations"])


class AbriCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        settings = get_settings()
        now = utcnow()
        with get_sessionmaker()() as session:
            waiting = GaugeMetricFamily(
                "abri_requests_pending", "Households waiting for a bed", labels=["priority"]
            )
            counts = dict(
                session.execute(
                    select(PlacementRequest.priority, func.count())
                    .where(PlacementRequest.status == RequestStatus.pending)
                    .group_by(PlacementRequest.priority)
                ).all()
            )
            for priority in (4, 3, 2, 1):
                waiting.add_metric([str(priority)], counts.get(priority, 0))
            yield waiting

            placements = GaugeMetricFamily(
                "abri_placements", "Placements by status", labels=["status"]
            )
            for status, n in session.execute(
                select(Placement.status, func.count()).group_by(Placement.status)
            ):
                placements.add_metric([status], n)
            yield placements

            rooms = free_rooms(session)
            free = GaugeMetricFamily("abri_free_beds", "Free beds tonight", labels=["room"])
            free.add_metric(["private"], sum(r.beds for r in rooms if not r.shared))
            free.add_metric(["shared"], sum(r.beds for r in rooms if r.shared))
            yield free

            updated = session.scalars(
                select(Shelter.availability_updated_at).where(Shelter.active.is_(True))
            ).all()
            # The dashboard's own rule, so that an alert and the screen never disagree.
            stale = sum(1 for u in updated if freshness_of(u, now, settings) == "stale")
            yield GaugeMetricFamily(
                "abri_shelters_stale", "Active shelters whose availability is stale", value=stale
            )

            run = session.execute(
                select(AllocationRun.status, AllocationRun.finished_at, AllocationRun.engine_wall_s)
                .where(AllocationRun.finished_at.is_not(None))
                .order_by(AllocationRun.finished_at.desc())
                .limit(1)
            ).first()
            if run is not None:
                status, finished_at, wall_s = run
                age = GaugeMetricFamily(
                    "abri_last_allocation_age_seconds",
                    "Seconds since the newest allocation run finished",
                    labels=["status"],
                )
                age.add_metric([status], (now - finished_at).total_seconds())
                yield age
                if wall_s is not None:
                    yield GaugeMetricFamily(
                        "abri_last_allocation_engine_seconds",
                        "Engine wall time of the newest run",
                        value=wall_s,
                    )


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
