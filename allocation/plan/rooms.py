"""Concrete rooms for the chosen candidates.

The model chooses room *types* (and "any room with a bed", and a shared pool's bed); here
each placed household gets room ids. Families take their rooms first; one-person households
then take the smallest rooms left (wheelchair users first, into wheelchair rooms); shared
beds go to wheelchair users first. The model's rows make every step possible.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import ANY_ROOM, Prepared
from ..models import Problem


@dataclass
class _SharedSlot:
    room_id: str
    beds_left: int
    wheelchair: bool


class _RoomsLeft:
    """Which rooms of each type, and which shared beds, are still free."""

    def __init__(self, prep: Prepared) -> None:
        self.prep = prep
        self.next_room: dict[tuple[int, int], int] = {}
        self.shared_left: dict[tuple[int, str], list[_SharedSlot]] = {}

    def take(self, j: int, t: int) -> str:
        """The next free room of type t at shelter j."""
        k = self.next_room.get((j, t), 0)
        self.next_room[(j, t)] = k + 1
        return self.prep.types[j][t].room_ids[k]

    def smallest_with_bed(self, j: int, wheelchair: bool) -> str:
        ts = self.prep.types[j]
        t = min(
            (
                k
                for k, rt in enumerate(ts)
                if rt.beds > 0
                and (rt.wheelchair or not wheelchair)
                and self.next_room.get((j, k), 0) < rt.count
            ),
            key=lambda k: (ts[k].beds, ts[k].wheelchair, ts[k].cribs),
        )
        return self.take(j, t)

    def shared_bed(self, j: int, sex: str, wheelchair: bool) -> str:
        key = (j, sex)
        if key not in self.shared_left:
            rs = sorted(self.prep.pools[j][sex].rooms, key=lambda r: r.wheelchair)
            self.shared_left[key] = [_SharedSlot(r.id, r.beds, r.wheelchair) for r in rs]
        pick = next(
            s for s in self.shared_left[key] if s.beds_left > 0 and (s.wheelchair or not wheelchair)
        )
        pick.beds_left -= 1
        return pick.room_id


def assign_rooms(problem: Problem, prep: Prepared, chosen: dict[int, int]) -> dict[int, list[str]]:
    """Room ids per placed household (``chosen``: household -> candidate)."""
    hs = problem.households
    c = prep.cands
    left = _RoomsLeft(prep)
    order = sorted(
        chosen, key=lambda i: (c.combo[chosen[i]] == ANY_ROOM, not hs[i].needs.wheelchair, i)
    )
    rooms_of: dict[int, list[str]] = {}
    for i in order:
        v = chosen[i]
        j = c.s[v]
        if c.combo[v] == ANY_ROOM:
            rooms_of[i] = [left.smallest_with_bed(j, hs[i].needs.wheelchair)]
        elif c.combo[v]:
            rooms_of[i] = [left.take(j, t) for t in c.combo[v]]
        else:
            sex = prep.profiles[i].single_adult_sex or ""
            rooms_of[i] = [left.shared_bed(j, sex, hs[i].needs.wheelchair)]
    return rooms_of


__all__ = ["assign_rooms"]
