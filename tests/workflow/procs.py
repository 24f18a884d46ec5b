"""Processes seen through /proc (which engine processes a process has, whether one lives),
and ``python -m app`` subprocesses for the tests that need real ones."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid), or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    """Running or sleeping: a zombie (dead, not yet reaped by its new parent) is not."""
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def engine_children(parent: int | None = None) -> list[int]:
    """Live engine processes (multiprocessing's spawned children) of ``parent``."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        st = _stat(int(entry.name))
        if st is None or st[1] != parent or not alive(int(entry.name)):
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


ROOT = Path(__file__).resolve().parents[2]


def start_app(args: list[str], database_url: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """``python -m app <args>`` on ``database_url``, in its own process group, its output in
    ``log``; ``env`` adds settings (ALLOCATION_TIME_LIMIT_S="5", …)."""
    full = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ALLOCATION_INTERVAL_S": "0",
        "LOG_LEVEL": "INFO",
        "LOCAL_WORKER": "off",
        **env,
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app", *args],
            cwd=ROOT,
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, wait_s: float = 60) -> int:
    """Signal the process group, wait; SIGKILL it if it does not end. Its exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
    try:
        return proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        raise


def wait_for(what: Callable[[], T | None], seconds: float, poll_s: float = 0.2) -> T | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(poll_s)
    return None


def children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None and st[1] == parent and alive(int(entry.name)):
                found.append(int(entry.name))
    return sorted(found)
