"""Stand-in engines run in the engine's child process (``module:function`` targets): a
closure cannot cross into another process, a module function can."""

from __future__ import annotations

import time

import allocation


def crash(problem: allocation.Problem) -> allocation.Plan:
    raise RuntimeError("solver crashed")


def slow(problem: allocation.Problem) -> allocation.Plan:
    time.sleep(1.0)  # long enough for a second request to arrive meanwhile
    return allocation.solve(problem)


def spin_forever(problem: allocation.Problem) -> allocation.Plan:
    """An engine that overruns any bound, burning CPU as a runaway solver would."""
    while True:
        sum(range(10_000))


def die(problem: allocation.Problem) -> allocation.Plan:
    import os

    os._exit(3)  # killed from inside (out of memory, segfault): no answer at all
