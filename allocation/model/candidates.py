"""The model's candidates: one Boolean per (household, shelter, room set) a plan may choose.

A candidate is a (household, shelter) pair passing rules 4–7 and the necessary fit test
(``rules.eligible_pairs``, ``rules.fit_possible_class``), times one of:

* a *minimal* multiset of the shelter's room types that takes the household (rule 2);
* ``ANY_ROOM``: for a one-person household needing a bed, "any free private room with a
  bed" (which one is decided in the plan: the smallest). Exact by Hall's theorem, with the
  rows of ``rows.py`` (``Prepared.bed_rooms``);
* ``()``: a bed of the shelter's shared pool of the household's sex (rule 3).

When the problem is too big the pairs are restricted to each household's nearest shelters
(``pruned``), and a pair's room sets may be cut (``combo_bounded_pairs``): the model is
then a restriction of the problem (``Prepared.restricted``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..models import Household, Problem
from ..params import DEFAULT_PARAMS, SearchParams
from ..rules import (
    EligiblePairs,
    Profile,
    RoomType,
    SharedPool,
    ShelterTable,
    bounded_minimal_combos,
    capacity_columns,
    combo_wasted,
    eligible_pairs,
    fit_possible_class,
    profile,
    room_types,
    shared_pools,
)

#: Candidate "combo" of a one-person household needing a bed: any free private room with a
#: bed (which one is decided after solving: the smallest). Exact by Hall's theorem, see
#: ``Prepared.bed_rooms``; it replaces one candidate per room type.
ANY_ROOM: tuple[int, ...] = (-1,)

Combo = tuple[int, ...]  # indices into the shelter's room types; () = a shared bed


@dataclass
class Candidates:
    """The candidates as columns (index v = the v-th Boolean of the model)."""

    h: list[int] = field(default_factory=list)  # household index
    s: list[int] = field(default_factory=list)  # shelter index
    combo: list[Combo] = field(default_factory=list)
    wasted: list[int] = field(default_factory=list)  # beds of its private rooms not slept in
    km: list[float] = field(default_factory=list)
    lang_miss: list[int] = field(default_factory=list)  # 1: the shelter lacks its language

    def __len__(self) -> int:
        return len(self.h)

    def add(self, i: int, j: int, combo: Combo, wasted: int, km: float, miss: int) -> int:
        """Append one candidate; its index."""
        self.h.append(i)
        self.s.append(j)
        self.combo.append(combo)
        self.wasted.append(wasted)
        self.km.append(km)
        self.lang_miss.append(miss)
        return len(self.h) - 1


class FitFilter:
    """The necessary room-fit test of ``rules.fit_possible_class`` as a pair filter.

    A household matters to it only through its size class (beds needed, size, wheelchair,
    single adult's sex), so one shelter mask per class is computed once.
    """

    def __init__(
        self,
        households: list[Household],
        profiles: list[Profile],
        caps: dict[str, npt.NDArray[np.int64]],
        n_shelters: int,
    ) -> None:
        classes: dict[tuple[int, int, bool, str], int] = {}
        self.household_class = np.array(
            [
                classes.setdefault(
                    (p.needs_bed, p.size, h.needs.wheelchair, p.single_adult_sex or ""),
                    len(classes),
                )
                for h, p in zip(households, profiles, strict=True)
            ],
            dtype=np.int64,
        )
        self.mask = np.zeros((max(1, len(classes)), n_shelters), dtype=bool)
        for (needs_bed, size, wheelchair, sex), k in classes.items():
            self.mask[k] = fit_possible_class(caps, needs_bed, size, wheelchair, sex or None)

    def __call__(self, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        out: npt.NDArray[np.bool_] = self.mask[self.household_class[idx]]
        return out


@dataclass
class Prepared:
    """Everything known before the search: the candidates and the shelters' capacities."""

    problem: Problem
    profiles: list[Profile]
    types: list[list[RoomType]]
    pools: list[dict[str, SharedPool]]
    cands: Candidates
    by_household: list[list[int]]  # per household: its candidates
    truncated: bool  # pruned: only each household's nearest shelters were modelled
    truncated_h: npt.NDArray[np.bool_]  # per household: it lost some shelters to pruning
    table: ShelterTable
    caps: dict[str, npt.NDArray[np.int64]]
    #: Per shelter: private rooms with at least one bed, and those also wheelchair.
    bed_rooms: list[int]
    bed_wc_rooms: list[int]
    has_room: npt.NDArray[np.bool_]  # per shelter: some free room
    fit_filter: FitFilter
    #: (household, shelter) pairs whose room sets were bounded (``max_combo_steps``).
    combo_bounded_pairs: int = 0
    #: Households whose bounded enumeration found no room set at some shelter.
    unlisted_fit: frozenset[int] = frozenset()
    #: Every pair passing rules 4-7 and the fit test, listed on demand if pruned (4.3M at
    #: region size): see ``all_pairs``.
    _all_pairs: EligiblePairs | None = None

    @property
    def restricted(self) -> bool:
        """The model leaves out some plans (pruned shelters or bounded room sets): its own
        optimum and LP bound nothing for the problem."""
        return self.truncated or self.combo_bounded_pairs > 0

    def bed_room_use(self, j: int, combo: Combo) -> tuple[int, int]:
        """(rooms with a bed, wheelchair rooms with a bed) a private combo takes at shelter j."""
        ts = self.types[j]
        n = sum(1 for t in combo if ts[t].beds > 0)
        return n, sum(1 for t in combo if ts[t].beds > 0 and ts[t].wheelchair)

    def all_pairs(self) -> EligiblePairs:
        """Every (household, shelter) pair passing rules 4-7 and the fit test, pruned or not."""
        if self._all_pairs is None:
            self._all_pairs = eligible_pairs(
                self.problem, self.table, extra_mask=self.has_room, pair_filter=self.fit_filter
            )
        return self._all_pairs


class _RoomSets:
    """A household's room sets at a shelter, enumerated once per (size class, shelter kind)."""

    def __init__(self, types: list[list[RoomType]], max_rooms: int, prm: SearchParams) -> None:
        self.types = types
        self.max_rooms = max_rooms
        self.prm = prm
        self.bed_rooms = [sum(t.count for t in ts if t.beds > 0) for ts in types]
        self.bed_wc_rooms = [
            sum(t.count for t in ts if t.beds > 0 and t.wheelchair) for ts in types
        ]
        self.min_bed = [min((t.beds for t in ts if t.beds > 0), default=0) for ts in types]
        self.min_wc_bed = [
            min((t.beds for t in ts if t.beds > 0 and t.wheelchair), default=0) for ts in types
        ]
        self._cache: dict[tuple[object, ...], list[tuple[Combo, int]]] = {}
        self._signature: dict[int, tuple[object, ...]] = {}
        self._bounded_keys: set[tuple[object, ...]] = set()
        self.bounded_pairs = 0
        self.unlisted_fit: set[int] = set()

    def _shelter_signature(self, j: int) -> tuple[object, ...]:
        sig = self._signature.get(j)
        if sig is None:
            sig = tuple((t.beds, t.cribs, t.wheelchair, t.count) for t in self.types[j])
            self._signature[j] = sig
        return sig

    def for_pair(self, i: int, h: Household, p: Profile, j: int) -> list[tuple[Combo, int]]:
        """(combo, wasted beds) of household i at shelter j, best first."""
        ts = self.types[j]
        key = (p.needs_bed, p.size, p.under3, h.needs.wheelchair, self._shelter_signature(j))
        combos = self._cache.get(key)
        if p.size == 1 and p.needs_bed == 1:
            usable = self.bed_wc_rooms[j] if h.needs.wheelchair else self.bed_rooms[j]
            smallest = self.min_wc_bed[j] if h.needs.wheelchair else self.min_bed[j]
            combos = [(ANY_ROOM, smallest - 1)] if usable else []
        elif combos is None:
            found, complete = bounded_minimal_combos(
                p, ts, self.max_rooms, h.needs.wheelchair, self.prm.max_combo_steps
            )
            ranked = sorted((combo_wasted(p, ts, c), len(c), c) for c in found)
            combos = [(c, w) for w, _, c in ranked[: self.prm.max_combos_per_pair]]
            if not complete or len(ranked) > self.prm.max_combos_per_pair:
                self._bounded_keys.add(key)
            self._cache[key] = combos
        if key in self._bounded_keys:
            self.bounded_pairs += 1
            if not combos:
                self.unlisted_fit.add(i)  # may fit here: U_t must still count it
        return combos


def _pairs(
    problem: Problem,
    table: ShelterTable,
    has_room: npt.NDArray[np.bool_],
    fit: FitFilter,
    prm: SearchParams,
    nearest: int | None = None,
) -> EligiblePairs:
    """All pairs when few enough; else only the nearest K shelters per household (the model
    is then restricted: its bound is not reported as a level-1 bound). ``nearest``: K
    (``prepare`` asks again with K when all the pairs gave too many candidates)."""
    n_h = len(problem.households)
    n_s = int(has_room.sum())
    if nearest is None and n_h * max(n_s, 1) > 4 * (prm.max_candidates // 2):
        nearest = _nearest_k(n_h, n_s, prm)
    return eligible_pairs(problem, table, extra_mask=has_room, nearest=nearest, pair_filter=fit)


def _nearest_k(n_h: int, n_s: int, prm: SearchParams) -> int:
    """Shelters kept per household when pruning: about half ``max_candidates`` pairs."""
    return max(prm.min_nearest, min(n_s, prm.max_candidates // 2 // max(n_h, 1)))


def _enumerate(
    problem: Problem,
    profiles: list[Profile],
    pools: list[dict[str, SharedPool]],
    pairs: EligiblePairs,
    sets: _RoomSets,
) -> tuple[Candidates, list[list[int]]]:
    """The candidates of every pair: its shared bed (rule 3), then its room sets (rule 2)."""
    hs = problem.households
    cands = Candidates()
    by_household: list[list[int]] = [[] for _ in hs]
    for i, j, km in zip(
        pairs.household.tolist(), pairs.shelter.tolist(), pairs.km.tolist(), strict=True
    ):
        h = hs[i]
        p = profiles[i]
        s = problem.shelters[j]
        miss = int(h.needs.language is not None and h.needs.language not in s.languages)
        combos = sets.for_pair(i, h, p, j)
        if p.shared_ok:
            pool = pools[j].get(p.single_adult_sex or "")
            if pool is not None and (pool.wheelchair_beds if h.needs.wheelchair else pool.beds):
                by_household[i].append(cands.add(i, j, (), 0, km, miss))
        for c, waste in combos:
            by_household[i].append(cands.add(i, j, c, waste, km, miss))
    return cands, by_household


def prepare(problem: Problem, prm: SearchParams = DEFAULT_PARAMS) -> Prepared:
    """The candidates of ``problem`` and the capacities their rows need (lossless unless
    ``Prepared.restricted``)."""
    hs = problem.households
    table = ShelterTable.from_problem(problem)
    profiles = [profile(h) for h in hs]
    # Cribs past the most babies of any household change nothing (lossless, docs/engine.md).
    crib_cap = max((p.under3 for p in profiles), default=0)
    types = [room_types(s.rooms, crib_cap) for s in problem.shelters]
    pools = [shared_pools(s.rooms) for s in problem.shelters]
    caps = capacity_columns(problem, types, pools)
    has_room = (caps["total"] > 0) | (caps["shared_F"] > 0) | (caps["shared_M"] > 0)
    fit = FitFilter(hs, profiles, caps, len(problem.shelters))
    pairs = _pairs(problem, table, has_room, fit, prm)
    sets = _RoomSets(types, problem.settings.max_rooms_per_household, prm)
    cands, by_household = _enumerate(problem, profiles, pools, pairs, sets)
    if len(cands) > prm.max_candidates and pairs.truncated is None:
        # Too many candidates with every pair (a night where every shelter is near every
        # household): prune, as the docs say, by the candidates, not the pairs (pruning at
        # half as many pairs restricted département nights of 57-75k candidates).
        k = _nearest_k(len(hs), int(has_room.sum()), prm)
        pairs = _pairs(problem, table, has_room, fit, prm, nearest=k)
        sets = _RoomSets(types, problem.settings.max_rooms_per_household, prm)
        cands, by_household = _enumerate(problem, profiles, pools, pairs, sets)
    truncated = bool(pairs.truncated is not None and pairs.truncated.any())
    return Prepared(
        problem=problem,
        profiles=profiles,
        types=types,
        pools=pools,
        cands=cands,
        by_household=by_household,
        truncated=truncated,
        truncated_h=(
            pairs.truncated if pairs.truncated is not None else np.zeros(len(hs), dtype=bool)
        ),
        table=table,
        caps=caps,
        bed_rooms=sets.bed_rooms,
        bed_wc_rooms=sets.bed_wc_rooms,
        has_room=has_room,
        fit_filter=fit,
        combo_bounded_pairs=sets.bounded_pairs,
        unlisted_fit=frozenset(sets.unlisted_fit),
        _all_pairs=None if truncated else pairs,
    )


__all__ = ["ANY_ROOM", "Candidates", "Combo", "FitFilter", "Prepared", "prepare"]
