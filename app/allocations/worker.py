"""Solver workers: ``python -m app worker`` takes runs off the queue and runs them.

Any number of worker processes, on any number of machines, share one database. Each runs
one run at a time (the engine uses the cores it is given: run one worker per 2-4 cores),
through ``EngineRunner`` (the engine in a child process, killed at its bound). An idle worker
waits on PostgreSQL's ``LISTEN abri_runs`` (woken at once by an enqueue) with a short poll
(``WORKER_POLL_S``) behind it, which is all SQLite has. Every ``SWEEP_S`` it re-queues or
fails the runs of dead workers (``queue.recover``).

SIGTERM or SIGINT: the current run finishes (bounded by the engine's limit), then the worker
exits 0; a second Ctrl-C (SIGINT) stops the engine at once (the run is marked failed).

A web process may start a worker itself (``LOCAL_WORKER``): a child process of ``serve`` /
``demo`` (the default on SQLite: the two-command demo needs no other command), or a thread
in each web process (tests; a small single-process deployment).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType
from typing import Any

import structlog
from sqlalchemy.engine import make_url

from app.allocations import queue, runner, service
from app.core.config import Settings

log = structlog.get_logger(__name__)

# How often a worker looks for runs left behind by dead workers (and queued too long).
SWEEP_S = 5.0
# A listener whose connection failed tries again this often (polling meanwhile).
RECONNECT_S = 5.0


class Listener:
    """``LISTEN abri_runs`` on its own autocommit connection (PostgreSQL); ``wait`` returns
    early when a notification arrives. Any failure falls back to plain polling."""

    def __init__(self, settings: Settings) -> None:
        self._url: str | None = None
        if not settings.is_sqlite:
            url = make_url(settings.database_url).set(drivername="postgresql")
            self._url = url.render_as_string(hide_password=False)
        self._conn: Any = None
        self._retry_at = 0.0

    def _connect(self) -> Any:
        if self._conn is None and self._url and time.monotonic() >= self._retry_at:
            try:
                import psycopg

                conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
                conn.execute(f"LISTEN {queue.CHANNEL}")
                self._conn = conn
            except Exception as exc:
                self._retry_at = time.monotonic() + RECONNECT_S
                log.warning("worker_listen_failed", error=type(exc).__name__)
        return self._conn

    def wait(self, timeout_s: float) -> None:
        conn = self._connect()
        if conn is None:
            queue.wakeup.wait(timeout_s)
            queue.wakeup.clear()
            return
        try:
            for _ in conn.notifies(timeout=timeout_s, stop_after=1):
                pass
        except Exception as exc:
            log.warning("worker_listen_lost", error=type(exc).__name__)
            self.close()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None


class Worker:
    """Claims and runs queued runs until ``stop`` is set (between runs)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.runs = 0
        self._last_sweep = 0.0

    def run_once(self) -> str | None:
        """Claim one run and run it; its id, or None if the queue had nothing to start."""
        claimed = queue.claim(service.new_holder())
        if claimed is None:
            return None
        log.info("allocation_claimed", run_id=claimed.run_id, holder=claimed.holder)
        try:
            service.execute_run(self.settings, claimed.run_id, claimed.territory_id, claimed.holder)
        except service.RunFailedError:
            pass  # marked failed with its reason (logged by the run)
        finally:
            self.runs += 1
            queue.announce_finished()
        return claimed.run_id

    def sweep(self) -> None:
        if time.monotonic() - self._last_sweep < SWEEP_S:
            return
        self._last_sweep = time.monotonic()
        try:
            recovered = queue.recover(self.settings)
            if recovered:
                log.warning("allocation_runs_recovered", count=recovered)
        except Exception as exc:  # a database hiccup: next sweep
            log.warning("worker_sweep_failed", error=type(exc).__name__)

    def serve(self) -> None:
        listener = Listener(self.settings)
        try:
            while not self.stop.is_set():
                self.sweep()
                try:
                    if self.run_once() is not None:
                        continue  # maybe more: look again at once
                except Exception as exc:  # the database is away: wait and look again
                    log.warning("worker_claim_failed", error=type(exc).__name__)
                if not self.stop.is_set():
                    listener.wait(self.settings.worker_poll_s)
        finally:
            listener.close()


# --- python -m app worker --------------------------------------------------------------------


def main(settings: Settings) -> int:
    """The worker process: serve until SIGTERM/SIGINT, finishing the current run."""
    worker = Worker(settings)

    interrupts = 0

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal interrupts
        # SIGTERM may come twice (from a service manager and from serve, which stops its
        # local worker): always graceful. A second Ctrl-C means now.
        interrupts += signum == signal.SIGINT
        if interrupts >= 2:
            log.warning("worker_stopping_now", signal=signum)
            runner.shutdown_runner()  # the run in progress fails, nothing is written
            return
        if worker.stop.is_set():
            return
        log.info("worker_stopping", signal=signum, note="the current run finishes first")
        worker.stop.set()
        queue.wakeup.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker_started", pid=os.getpid(), database=make_url(settings.database_url).drivername)
    with contextlib.suppress(Exception):
        runner.get_runner().warm()  # the engine's interpreter and OR-Tools, before the first run
    worker.serve()
    runner.shutdown_runner()
    log.info("worker_stopped", runs=worker.runs)
    return 0


# --- the local worker ---------------------------------------------------------------------------


class LocalWorkerThread:
    """``LOCAL_WORKER=thread``: a worker inside this (web) process, started and stopped by
    the application's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.worker = Worker(settings)
        self._thread = threading.Thread(
            target=self.worker.serve, name="abri-local-worker", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.worker.stop.set()
        queue.wakeup.set()
        self._thread.join(service.solve_bound_s(self.worker.settings) + 30)


PR_SET_PDEATHSIG = 1


def _term_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # The serve process gone (even kill -9), its local worker finishes its run and stops.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))


def start_local_process() -> subprocess.Popen[bytes]:
    """``LOCAL_WORKER=process``: ``python -m app worker`` as a child of this process, with
    the same environment (database, time limit)."""
    linux = sys.platform.startswith("linux")
    return subprocess.Popen(
        [sys.executable, "-m", "app", "worker"],
        preexec_fn=_term_with_parent if linux else None,
    )


def stop_local_process(proc: subprocess.Popen[bytes], settings: Settings) -> None:
    """SIGTERM, then wait for its run to finish (bounded); SIGKILL if it does not."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(service.solve_bound_s(settings) + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
