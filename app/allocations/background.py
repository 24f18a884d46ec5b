"""The background loop of each web process: hold expiry, runs left behind, periodic runs.

Every web process runs it; they do not pile up: expiry takes row locks and skips rows
another process is on, and a periodic run is only queued (``app.allocations.queue``; the
solver workers run it): a territory has at most one run queued or running, so across
processes and replicas the others' enqueues are simply refused and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from sqlalchemy import select

from app.allocations import queue, service
from app.core.config import Settings
from app.core.db import get_sessionmaker
from app.placements.service import expire_holds
from app.requests.retention import purge_expired_detail
from app.territories.models import Territory

log = structlog.get_logger(__name__)

# Retention is counted in days: an hourly look is plenty, and cheap when there is nothing.
RETENTION_CHECK_S = 3600.0


def expire_once() -> int:
    with get_sessionmaker()() as session, session.begin():
        return expire_holds(session)


def purge_once(settings: Settings) -> int:
    with get_sessionmaker()() as session, session.begin():
        return purge_expired_detail(session, settings.retention_days).requests


def periodic_run_once(settings: Settings, territory_id: str | None = None) -> str | None:
    """Queue a scheduled run of each territory (or of ``territory_id``) where something
    changed since its last one; the last queued run's id, or None."""
    if territory_id is None:
        with get_sessionmaker()() as session:
            territories = list(session.scalars(select(Territory.id).order_by(Territory.code)))
    else:
        territories = [territory_id]
    last: str | None = None
    for tid in territories:
        if not service.something_changed(settings, tid):
            continue
        try:
            last = queue.enqueue(settings, None, "schedule", tid)
        except queue.RunActiveError:
            continue  # one is queued or running already (another process queued it)
    return last


async def background_loop(settings: Settings, stop: asyncio.Event) -> None:
    interval = settings.allocation_interval_s
    expiry_every = settings.hold_expiry_check_s
    if interval <= 0 and expiry_every <= 0:
        return
    ticks = [t for t in (interval, expiry_every) if t > 0]
    tick = min(ticks)
    last_run = time.monotonic()
    last_expiry = time.monotonic()
    # The first purge comes one tick after start-up, not an hour later.
    last_purge = time.monotonic() - RETENTION_CHECK_S
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick)
        if stop.is_set():
            break
        now = time.monotonic()
        try:
            # Blocking database and engine work goes to a thread: never on the event loop.
            if expiry_every > 0 and now - last_expiry >= expiry_every:
                last_expiry = now
                expired = await asyncio.to_thread(expire_once)
                if expired:
                    log.info("holds_expired", count=expired)
                # Runs a dead worker left "running": re-queued or failed, with why; runs
                # queued too long: failed.
                recovered = await asyncio.to_thread(queue.recover, settings)
                if recovered:
                    log.warning("abandoned_runs_failed", count=recovered)
            if now - last_purge >= RETENTION_CHECK_S:
                last_purge = now
                purged = await asyncio.to_thread(purge_once, settings)
                if purged:
                    log.info("retention_purged", requests=purged)
            if interval > 0 and now - last_run >= interval:
                last_run = now
                run_id = await asyncio.to_thread(periodic_run_once, settings)
                if run_id:
                    log.info("scheduled_allocation_queued", run_id=run_id)
        except Exception:  # the loop must survive a database hiccup
            log.exception("background_loop_error")


class BackgroundTasks:
    """Started and stopped by the application's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(background_loop(self._settings, self._stop))

    async def stop(self) -> None:
        self._stop.set()
        if self._task is None:
            return
        # A tick in progress (database work only: runs are the workers') finishes; wait a
        # little, then give up on it.
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=30)
        except TimeoutError:
            self._task.cancel()
