"""The model's constraints as data: rows ``Σ coeffs·x[vars] ≤ ub`` over the candidates.

One function per rule family (the style of OR-Tools' ``shift_scheduling_sat.py``). The same
rows feed the CP-SAT model, its sub-models, the LP relaxation (keep-apart rows dropped:
a relaxation stays a bound), the Lagrangian pricing (by ``key``) and the fixed-set stage.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..models import Problem
from ..rules import apart_enough
from .candidates import ANY_ROOM, Prepared


@dataclass
class Row:
    """One constraint ``Σ coeffs·x[vars] ≤ ub`` of the model (all rules are of this form)."""

    vars: list[int]
    coeffs: list[int]
    ub: int
    keep_apart: bool = False
    #: What the row counts: ("household",), ("type", shelter, type), ("hall", shelter),
    #: ("hall_wc", shelter), ("pool", shelter, sex), ("pool_wc", shelter, sex), ("keep_apart",).
    key: tuple[object, ...] = ()


def household_rows(prep: Prepared) -> list[Row]:
    """Rule 1: at most one candidate per household."""
    return [
        Row(list(vs), [1] * len(vs), 1, key=("household",))
        for vs in prep.by_household
        if len(vs) > 1
    ]


@dataclass
class _Uses:
    """Which candidates use which capacity, per shelter (the capacity rows' terms)."""

    type_use: dict[tuple[int, int], list[tuple[int, int]]] = field(default_factory=dict)
    pool_use: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    pool_wc_use: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    any_use: dict[int, list[int]] = field(default_factory=dict)
    any_wc_use: dict[int, list[int]] = field(default_factory=dict)
    fam_bed: dict[int, list[tuple[int, int, int]]] = field(default_factory=dict)


def _uses(problem: Problem, prep: Prepared) -> _Uses:
    hs = problem.households
    c = prep.cands
    u = _Uses()
    for v in range(len(c)):
        j = c.s[v]
        if c.combo[v] == ANY_ROOM:
            u.any_use.setdefault(j, []).append(v)
            if hs[c.h[v]].needs.wheelchair:
                u.any_wc_use.setdefault(j, []).append(v)
        elif c.combo[v]:
            nb, nw = prep.bed_room_use(j, c.combo[v])
            u.fam_bed.setdefault(j, []).append((v, nb, nw))
            counts: dict[int, int] = {}
            for t in c.combo[v]:
                counts[t] = counts.get(t, 0) + 1
            for t, k in counts.items():
                u.type_use.setdefault((j, t), []).append((v, k))
        else:
            sex = prep.profiles[c.h[v]].single_adult_sex or ""
            u.pool_use.setdefault((j, sex), []).append(v)
            if hs[c.h[v]].needs.wheelchair:
                u.pool_wc_use.setdefault((j, sex), []).append(v)
    return u


def _hall_row(
    fam: list[tuple[int, int]], singles: list[int], rooms: int, key: tuple[object, ...]
) -> Row:
    return Row(
        [v for v, _ in fam] + singles, [nb for _, nb in fam] + [1] * len(singles), rooms, key=key
    )


def capacity_rows(problem: Problem, prep: Prepared) -> list[Row]:
    """Rules 2-3: rooms per (shelter, room type), the two Hall rows of "any room with a bed"
    (wheelchair users need wheelchair rooms, others take any), shared beds per (shelter, sex)
    and wheelchair shared beds. Rows that cannot bind are left out."""
    u = _uses(problem, prep)
    rows: list[Row] = []
    for (j, t), uses in u.type_use.items():
        cap = prep.types[j][t].count
        if sum(k for _, k in uses) > cap:
            rows.append(Row([v for v, _ in uses], [k for _, k in uses], cap, key=("type", j, t)))
    for j, vs in u.any_use.items():
        fam = [(v, nb) for v, nb, _ in u.fam_bed.get(j, []) if nb]
        rows.append(_hall_row(fam, vs, prep.bed_rooms[j], ("hall", j)))
    for j, vs in u.any_wc_use.items():
        fam = [(v, nw) for v, _, nw in u.fam_bed.get(j, []) if nw]
        rows.append(_hall_row(fam, vs, prep.bed_wc_rooms[j], ("hall_wc", j)))
    for (j, sex), vs in u.pool_use.items():
        cap = prep.pools[j][sex].beds
        if len(vs) > cap:
            rows.append(Row(vs, [1] * len(vs), cap, key=("pool", j, sex)))
    for (j, sex), vs in u.pool_wc_use.items():
        cap = prep.pools[j][sex].wheelchair_beds
        if len(vs) > cap:
            rows.append(Row(vs, [1] * len(vs), cap, key=("pool_wc", j, sex)))
    return rows


def keep_apart_rows(
    problem: Problem, prep: Prepared, ka: dict[tuple[int, int], float]
) -> list[Row]:
    """Rule 8: for a pair (a, b) and each shelter s of a, "a at s" + "b at any shelter that
    is s or too close to it" ≤ 1 (only where both have candidates)."""
    c = prep.cands
    by_hs: list[dict[int, list[int]]] = [{} for _ in problem.households]
    for v in range(len(c)):
        by_hs[c.h[v]].setdefault(c.s[v], []).append(v)
    rows: list[Row] = []
    for (a, b), km in ka.items():
        sa, sb = list(by_hs[a]), list(by_hs[b])
        if not sa or not sb:
            continue
        ok = apart_enough(prep.table, np.array(sa), np.array(sb), km)
        # The conflicts of the whole pair at once (row-major: b's shelters in order within
        # each shelter of a); element-wise numpy indexing here was 0.9 s of the
        # keep-apart night's 2.3 s before its first stage.
        conflicts: dict[int, list[int]] = {}
        for ia, ib in zip(*(a.tolist() for a in np.nonzero(~ok)), strict=True):
            conflicts.setdefault(ia, []).append(sb[ib])
        for ia, ja in enumerate(sa):
            conflict = conflicts.get(ia)
            if conflict:
                terms = list(by_hs[a][ja])
                for jb in conflict:
                    terms += by_hs[b][jb]
                rows.append(Row(terms, [1] * len(terms), 1, keep_apart=True, key=("keep_apart",)))
    return rows


class RowMatrix:
    """The rows as one sparse matrix (rows × candidates), to restrict them to a subset of
    candidates at the cost of the subset's own nonzeros: a sub-model or a km window used
    to walk every term of every row in Python (870k on the keep-apart night, 0.3-0.7 s
    each time)."""

    def __init__(self, csc: sp.csc_matrix, ub: np.ndarray) -> None:
        self.csc = csc
        self.ub = ub

    @classmethod
    def of(cls, rows: Sequence[Row], n: int) -> RowMatrix:
        """The matrix of ``rows`` over ``n`` candidates."""
        lengths = [len(r.vars) for r in rows]
        row_of = np.repeat(np.arange(len(rows)), lengths)
        cols = np.fromiter((v for r in rows for v in r.vars), dtype=np.int64, count=len(row_of))
        data = np.fromiter((k for r in rows for k in r.coeffs), dtype=np.int64, count=len(row_of))
        csc = sp.csc_matrix((data, (row_of, cols)), shape=(len(rows), n))
        return cls(csc, np.array([r.ub for r in rows], dtype=np.int64))

    def select(self, keep: Sequence[bool]) -> RowMatrix:
        """The same matrix with only the rows flagged in ``keep``, in order (no rebuild)."""
        at = np.flatnonzero(np.asarray(keep, dtype=bool))
        return RowMatrix(self.csc[at, :].tocsc(), self.ub[at])

    def restricted(self, idx: Sequence[int]) -> Iterator[tuple[int, list[int], list[int]]]:
        """Each row with a term among the candidates ``idx`` (sorted), in row order: (row,
        positions in ``idx``, coefficients)."""
        sub = self.csc[:, np.asarray(idx, dtype=np.int64)].tocsr()
        sub.sort_indices()
        ptr = sub.indptr
        for r in np.flatnonzero(np.diff(ptr)).tolist():
            a, b = ptr[r], ptr[r + 1]
            yield r, sub.indices[a:b].tolist(), sub.data[a:b].tolist()


def build_rows(problem: Problem, prep: Prepared, ka: dict[tuple[int, int], float]) -> list[Row]:
    """Rules 1-3 and 8 on the prepared candidates, in a fixed order (the model's)."""
    return household_rows(prep) + capacity_rows(problem, prep) + keep_apart_rows(problem, prep, ka)


__all__ = ["Row", "RowMatrix", "build_rows", "capacity_rows", "household_rows", "keep_apart_rows"]
