"""Process-level preparation of a serving worker, applied once at start-up.

Two costs used to land on the first requests a worker served, or at random under load:

- **Cold start.** The database driver was imported, the engine created, the mappers
  configured and the first connection opened by whichever request came first: 200–1,000 ms
  for the first ``GET /allocations/latest`` answered by the second worker (measured with
  py-spy); then the first burst opened pooled connections one by one. ``warm_up`` does
  both before the worker takes traffic.
- **Full garbage collections.** Python's cyclic collector, on a full (generation 2)
  collection, walks every tracked object of the process. A worker holds about 190,000 of
  them after start-up (FastAPI, Pydantic, SQLAlchemy, OR-Tools' wrappers, the app's models
  and routes): one full collection took 108 ms on the benchmark machine, and it fires on its
  own under load, stalling every request of that worker. These objects live as long as the
  process, so there is nothing to reclaim among them: ``freeze_startup_heap`` moves them to a
  permanent generation that collections skip. What is allocated afterwards (requests, runs)
  is collected as before; a full collection then took under 1 ms on an idle worker.
"""

from __future__ import annotations

import gc
import threading

import structlog
from sqlalchemy import Connection, text
from sqlalchemy.orm import configure_mappers
from sqlalchemy.pool import QueuePool

from app.core.db import get_engine

log = structlog.get_logger(__name__)

_frozen = False


#: One warm-up at a time per process: apps created in one process (tests, several at once)
#: share the engine, and concurrent warm-ups each holding part of its pool while waiting for
#: the rest starved one another until the pool's timeout (every request then failed).
_WARM_UP_LOCK = threading.Lock()


def warm_up() -> bool:
    """Import the driver, configure the mappers and fill the connection pool.

    The pool is filled to its size (``DB_POOL_SIZE``): the first burst of requests after a
    start would otherwise open connections one by one, each a new server process on
    PostgreSQL (~10–50 ms here), in the middle of answering. A database that is down does
    not stop the worker from starting (``/readyz`` says it is not ready, and requests get a
    503 until it is back): False is returned and logged.
    """
    configure_mappers()
    engine = get_engine()
    size = engine.pool.size() if isinstance(engine.pool, QueuePool) else 1
    conns: list[Connection] = []
    with _WARM_UP_LOCK:
        try:
            for _ in range(size):
                conns.append(engine.connect())
            conns[0].execute(text("SELECT 1"))
        except Exception as exc:  # unreachable, refused, not migrated: readiness reports it
            log.warning("warm_up_database_unreachable", error=type(exc).__name__)
            return False
        finally:
            for conn in conns:
                conn.close()  # back to the pool, open
    return True


def freeze_startup_heap() -> int:
    """Collect once, then exempt every surviving object from future collections.

    Call it when start-up is over (the app built, its modules imported, ``warm_up`` done),
    before the first request. Only the first call in a process does anything (a test suite
    starts the app many times; freezing each time would keep each test's leftovers forever).
    Returns how many objects are frozen.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()
    return gc.get_freeze_count()
