"""Processes seen through /proc: which engine processes a process has, and whether one lives."""

from __future__ import annotations

import os
from pathlib import Path


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
