"""A valid plan built by hand: the search's first hint, and its top-up after every stage.

``greedy`` keeps a given valid plan and adds households in a fixed order (most urgent, then
larger, then longer waiting), each taking its nearest candidate that still has capacity
and breaks no keep-apart pair; ``Ledger`` is the free capacity while it does so, counted
exactly as the model's rows count it (room types, Hall rows of "any room with a bed",
shared pools).
"""

from __future__ import annotations

import numpy as np

from ..model import ANY_ROOM, Prepared
from ..models import Problem
from ..rules import apart_enough


class Ledger:
    """Free capacity left while building a plan by hand (greedy start, repair)."""

    def __init__(self, prep: Prepared) -> None:
        self.prep = prep
        self.types = [[t.count for t in ts] for ts in prep.types]
        self.pool: list[dict[str, list[int]]] = [
            {sex: [pool.beds, pool.wheelchair_beds] for sex, pool in ps.items()}
            for ps in prep.pools
        ]
        # Rooms with a bed left after families, and one-person households waiting for one.
        self.bed_left = list(prep.bed_rooms)
        self.bed_wc_left = list(prep.bed_wc_rooms)
        self.any_n = [0] * len(prep.types)
        self.any_wc = [0] * len(prep.types)

    def _hall_ok(self, j: int) -> bool:
        return (
            self.any_wc[j] <= self.bed_wc_left[j]
            and self.any_n[j] + self.any_wc[j] <= self.bed_left[j]
        )

    def take(self, v: int, wheelchair: bool, sex: str) -> bool:
        """Reserve candidate v's capacity if it is still free; False (nothing changed) if not."""
        c = self.prep.cands
        j = c.s[v]
        combo = c.combo[v]
        if combo == ANY_ROOM:
            if wheelchair:
                self.any_wc[j] += 1
            else:
                self.any_n[j] += 1
            if self._hall_ok(j):
                return True
            if wheelchair:
                self.any_wc[j] -= 1
            else:
                self.any_n[j] -= 1
            return False
        if combo:
            need: dict[int, int] = {}
            for t in combo:
                need[t] = need.get(t, 0) + 1
            if any(self.types[j][t] < k for t, k in need.items()):
                return False
            nb, nw = self.prep.bed_room_use(j, combo)
            self.bed_left[j] -= nb
            self.bed_wc_left[j] -= nw
            if not self._hall_ok(j):
                self.bed_left[j] += nb
                self.bed_wc_left[j] += nw
                return False
            for t, k in need.items():
                self.types[j][t] -= k
            return True
        pool = self.pool[j][sex]
        if pool[0] < 1 or (wheelchair and pool[1] < 1):
            return False
        pool[0] -= 1
        if wheelchair:
            pool[1] -= 1
        return True


def greedy(
    problem: Problem,
    prep: Prepared,
    ka: dict[tuple[int, int], float],
    start: list[int] | None = None,
) -> list[int]:
    """A valid plan (chosen candidate per household, -1 if none), built greedily.

    Keeps the placements of ``start`` (a valid plan) and adds households: most urgent first,
    then larger, then longer waiting; each takes its nearest candidate that still has
    capacity and breaks no keep-apart pair. Used as CP-SAT's first hint and to top up a
    stage's plan if the time ran out.
    """
    hs = problem.households
    c = prep.cands
    ledger = Ledger(prep)
    partners: dict[int, list[tuple[int, float]]] = {}
    for (a, b), km in ka.items():
        partners.setdefault(a, []).append((b, km))
        partners.setdefault(b, []).append((a, km))
    chosen = [-1] * len(hs)
    shelter_of = [-1] * len(hs)
    if start is not None:
        # Families before one-person households so that room accounting follows Hall's order.
        for i in sorted(
            range(len(hs)), key=lambda i: start[i] >= 0 and c.combo[start[i]] == ANY_ROOM
        ):
            v = start[i]
            if v >= 0:
                ok = ledger.take(v, hs[i].needs.wheelchair, prep.profiles[i].single_adult_sex or "")
                if not ok:  # pragma: no cover - start is a valid plan
                    raise AssertionError("invalid start plan")
                chosen[i] = v
                shelter_of[i] = c.s[v]
    order = sorted(
        range(len(hs)),
        key=lambda i: (-hs[i].priority, -prep.profiles[i].size, hs[i].waiting_since, i),
    )
    for i in order:
        if chosen[i] >= 0:
            continue
        opts = sorted(prep.by_household[i], key=lambda v: (c.km[v], c.wasted[v], v))
        for v in opts:
            j = c.s[v]
            ok = True
            for b, km in partners.get(i, []):
                sb = shelter_of[b]
                if sb < 0:
                    continue
                if not apart_enough(prep.table, np.array([j]), np.array([sb]), km)[0, 0]:
                    ok = False
                    break
            if not ok:
                continue
            if not ledger.take(v, hs[i].needs.wheelchair, prep.profiles[i].single_adult_sex or ""):
                continue
            chosen[i] = v
            shelter_of[i] = j
            break
    return chosen


__all__ = ["Ledger", "greedy"]
