"""The engine in its own process, killed at its bound.

``allocation.solve`` runs in a child process started with the *spawn* method (a fresh
interpreter: nothing of the worker's threads, locks or connections is inherited), and the
problem and plan cross as JSON (their Pydantic dumps). The caller waits at most its bound; on
a timeout, a cancellation (the run lost its lease, the worker is shutting down) or any error
the child is killed and reaped, so no solver thread or process outlives its run. A child
whose parent dies (kill -9 of the worker) is killed by the kernel (Linux), or notices
and exits.

A child that answered is kept for the next run (``max_jobs`` runs, then replaced): a fresh
interpreter importing OR-Tools costs ~1.5 s of CPU and 3-6 s of wall time on
a loaded machine, against the engine's 10 s. The engine's memory lives and dies with the child,
so the worker's own memory does not grow with runs.

Nothing here knows about the web or the database: the solver worker
(``app.allocations.worker``) runs every allocation through it; web processes never do.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import allocation

# What the child runs: ``module:function`` taking a Problem and returning a Plan. Tests point
# it at an engine that sleeps or fails, which a closure could not do across processes.
ENGINE = "allocation:solve"
# How long a new child may take to start (interpreter + OR-Tools import) on a loaded machine.
START_TIMEOUT_S = 60.0
# The caller checks its cancellation this often while the engine thinks.
POLL_S = 0.2
# The child checks that its parent is still alive this often.
ORPHAN_CHECK_S = 0.5
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_spawn = multiprocessing.get_context("spawn")
# Children are started from this one long-lived thread: Linux's parent-death signal follows
# the thread that started a child, and request threads come and go.
_starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="abri-engine-start")


class EngineError(RuntimeError):
    """The engine did not give a plan: it raised, died, overran or was cancelled.

    The message is fit for the run's record; ``detail`` (the engine's own message, if it
    raised) is for the server log only."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class EngineTimeoutError(EngineError, TimeoutError):
    """The engine did not answer within its bound; its process was killed."""


class EngineCancelledError(EngineError):
    """The caller gave up (lost lease, shutdown); the engine's process was killed."""


# --- the child ------------------------------------------------------------------------------


def _die_with_parent(parent_pid: int) -> None:
    """The worker gone, nobody will read the plan: exit rather than solve for nobody.

    On Linux the kernel sends SIGKILL when the parent's spawning thread ends (the runner
    starts children from one thread that lives as long as the process). Elsewhere, and in
    case the parent died before this ran, a thread watches for re-parenting (it needs the
    GIL, which a long engine call may hold: the kernel's signal does not)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True).start()


def _exit_when_orphaned(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(1)


def _load(target: str) -> Callable[[allocation.Problem], allocation.Plan]:
    module, _, name = target.partition(":")
    fn: Callable[[allocation.Problem], allocation.Plan] = getattr(
        importlib.import_module(module), name
    )
    return fn


def _child_main(conn: Connection, parent_pid: int) -> None:
    """Answer jobs ``(target, problem JSON)`` with ``("ok", plan JSON)`` or ``("error", …)``."""
    _die_with_parent(parent_pid)
    # Ctrl-C or a SIGTERM to the process group is for the worker, which finishes its run
    # and then stops this process; dying here would fail the run it is finishing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        conn.send(("ready", os.getpid()))
        while True:
            job = conn.recv()
            if job is None:
                return
            target, payload = job
            try:
                plan = _load(target)(allocation.Problem.model_validate_json(payload))
                conn.send(("ok", plan.model_dump_json()))
            except Exception as exc:  # handed to the caller, which logs it
                conn.send(("error", type(exc).__name__, str(exc)[:1000]))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return  # the parent closed its end or the terminal was interrupted


# --- the parent -----------------------------------------------------------------------------


@dataclass(eq=False)  # identity: kept in a set
class _Child:
    process: BaseProcess
    conn: Connection
    jobs: int = 0

    @property
    def pid(self) -> int:
        return int(self.process.pid or 0)


class EngineRunner:
    """Runs the engine in child processes; thread-safe (each call gets its own child)."""

    def __init__(self, target: str = ENGINE, max_jobs: int = 20) -> None:
        self.target = target
        self.max_jobs = max_jobs
        self._lock = threading.Lock()
        self._idle: list[_Child] = []
        self._live: set[_Child] = set()
        self._closed = False

    def solve(
        self,
        problem: allocation.Problem,
        bound_s: float,
        cancelled: Callable[[], bool] | None = None,
    ) -> allocation.Plan:
        """The engine's plan, or ``EngineError`` after at most ``bound_s`` of solving."""
        child = self._take()
        answered = False
        try:
            child.conn.send((self.target, problem.model_dump_json()))
            reply = self._wait(child, bound_s, cancelled)
            answered = True
        finally:
            if answered:
                self._give_back(child)
            else:
                self._kill(child)
        if reply[0] == "ok":
            return allocation.Plan.model_validate_json(reply[1])
        raise EngineError(f"the engine raised {reply[1]}", detail=reply[2])

    def _wait(
        self, child: _Child, bound_s: float, cancelled: Callable[[], bool] | None
    ) -> tuple[Any, ...]:
        deadline = time.monotonic() + bound_s
        while True:
            left = deadline - time.monotonic()
            try:
                if child.conn.poll(max(0.0, min(POLL_S, left))):
                    reply: tuple[Any, ...] = child.conn.recv()
                    return reply
            except (EOFError, OSError):  # died, or killed by shutdown() meanwhile
                if self._closed:
                    raise EngineCancelledError("the worker is shutting down") from None
                raise self._died(child) from None
            if self._closed:
                raise EngineCancelledError("the worker is shutting down")
            if not child.process.is_alive():
                raise self._died(child)
            if cancelled is not None and cancelled():
                raise EngineCancelledError("the run was cancelled")
            if left <= 0:
                raise EngineTimeoutError(f"the engine did not answer within {bound_s:.0f} s")

    def _died(self, child: _Child) -> EngineError:
        child.process.join(1)
        return EngineError(f"the engine's process died (exit code {child.process.exitcode})")

    def _take(self) -> _Child:
        with self._lock:
            if self._closed:
                raise EngineCancelledError("the worker is shutting down")
            while self._idle:
                child = self._idle.pop()
                if child.process.is_alive():
                    child.jobs += 1
                    return child
                self._live.discard(child)
        child = self._start()
        child.jobs = 1
        return child

    def _start(self) -> _Child:
        ours, theirs = _spawn.Pipe()
        # daemon: multiprocessing kills it at interpreter exit too.
        process = _spawn.Process(
            target=_child_main, args=(theirs, os.getpid()), name="abri-engine", daemon=True
        )
        _starter.submit(process.start).result()
        theirs.close()
        child = _Child(process, ours)
        with self._lock:
            self._live.add(child)
        try:
            if not ours.poll(START_TIMEOUT_S):
                raise EngineError(f"the engine's process did not start in {START_TIMEOUT_S:.0f} s")
            ours.recv()  # ("ready", pid)
        except BaseException as exc:
            self._kill(child)
            if isinstance(exc, EOFError):
                raise self._died(child) from None
            raise
        return child

    def _give_back(self, child: _Child) -> None:
        with self._lock:
            keep = not self._closed and child.jobs < self.max_jobs and not self._idle
            if keep:
                self._idle.append(child)
        if not keep:
            self._kill(child)

    def _kill(self, child: _Child) -> None:
        """SIGKILL and reap: CP-SAT's threads go with the process."""
        if child.process.is_alive():
            child.process.kill()
        child.process.join(5)
        child.conn.close()
        with self._lock:
            self._live.discard(child)

    def warm(self) -> None:
        """Start the engine's process now if none is idle (a worker does at start-up), so
        that the first run does not pay the interpreter and OR-Tools import."""
        with self._lock:
            if self._closed or self._idle:
                return
        child = self._start()
        self._give_back(child)

    @property
    def closed(self) -> bool:
        return self._closed

    def pids(self) -> list[int]:
        """The engine processes alive now (idle or solving)."""
        with self._lock:
            return sorted(c.pid for c in self._live if c.process.is_alive())

    def shutdown(self) -> None:
        """Kill every engine process; a call waiting on one raises ``EngineCancelledError``."""
        with self._lock:
            self._closed = True
            children = list(self._live)
            self._idle.clear()
        for child in children:
            self._kill(child)


_runner: EngineRunner | None = None
_runner_lock = threading.Lock()


def get_runner() -> EngineRunner:
    """This process's runner (one warm engine process at most, started on first use)."""
    global _runner
    with _runner_lock:
        if _runner is None or _runner.closed:
            _runner = EngineRunner()
        return _runner


def shutdown_runner() -> None:
    with _runner_lock:
        runner = _runner
    if runner is not None:
        runner.shutdown()


atexit.register(shutdown_runner)
