"""The hard rules 1–8 of ``shared/spec/allocation.md``, written once.

Everything that decides whether a household may go somewhere calls this module: the
CP-SAT solver, the checker, ``household_options``, ``check_assignment``, the baselines and the
service's manual placement. Nothing here knows about optimisation.

Vocabulary
----------
*Eligibility* is rules 4–7: a property of a (household, shelter) pair, independent of which
rooms are free. Each failed clause has a stable *rule code* (:data:`ELIGIBILITY_RULES`).

*Room fit* is rules 2–3: whether a given set of free rooms of one shelter can take the whole
household. Rule 1 (one shelter) and the capacity side of rules 2–3 (a private room holds one
household, a shared room no more people than its beds) depend on the whole plan and are
enforced by the solver and verified by :mod:`allocation.check`.

Rule 8 (keep apart) is read with :func:`keep_apart_pairs`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .geo import haversine_a_matrix, haversine_matrix, haversine_pairs, km_to_a
from .models import ADULT_AGE, Household, Problem, Room, Shelter

CRIB_AGE = 3  # members aged 3 or more need a real bed (rule 2)

#: Eligibility clauses, in the order an operator reads them (rule 7, 4, 5, 6).
ELIGIBILITY_RULES: tuple[str, ...] = (
    "excluded",  # rule 7
    "women",  # rule 4: an adult woman needs `women`
    "men",  # rule 4: an adult man needs `men`
    "children",  # rule 4: any minor needs `children`
    "max_boy_age",  # rule 4: a boy older than `max_boy_age` is refused
    "dv_specialised",  # rule 4
    "secure",  # rule 4
    "pets",  # rule 4
    "wheelchair",  # rule 4: needs a wheelchair shelter (rooms are checked by room fit)
    "max_km",  # rule 5
    "avoid",  # rule 6
)

#: Human wording of each eligibility code, used in details ("4 refuse men/boys").
RULE_WORDING: dict[str, str] = {
    "excluded": "are excluded for this household",
    "women": "refuse women",
    "men": "refuse men",
    "children": "refuse children",
    "max_boy_age": "refuse a boy this old",
    "dv_specialised": "are not specialised in domestic violence",
    "secure": "are not secure",
    "pets": "refuse pets",
    "wheelchair": "are not wheelchair accessible",
    "max_km": "are too far",
    "avoid": "lie inside a safety zone",
}

_NO_LIMIT = 10_000  # stands for "no max_boy_age" in integer arrays


# --- households -------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """What the rules need to know about a household's composition."""

    size: int
    needs_bed: int  # members aged 3 or more
    under3: int
    adult_women: int
    adult_men: int
    minors: int
    oldest_boy: int  # age of the oldest minor boy, -1 if none
    single_adult_sex: str | None  # "F"/"M" if exactly one adult and no one else

    @property
    def shared_ok(self) -> bool:
        """Rule 3: only a household of exactly one adult and no children may share."""
        return self.single_adult_sex is not None


def profile(h: Household) -> Profile:
    """Composition facts of ``h`` (cheap; recompute freely)."""
    ages = [m.age for m in h.members]
    adults = [m for m in h.members if m.age >= ADULT_AGE]
    boys = [m.age for m in h.members if m.age < ADULT_AGE and m.sex == "M"]
    single = adults[0].sex if len(h.members) == 1 and len(adults) == 1 else None
    return Profile(
        size=len(ages),
        needs_bed=sum(1 for a in ages if a >= CRIB_AGE),
        under3=sum(1 for a in ages if a < CRIB_AGE),
        adult_women=sum(1 for m in adults if m.sex == "F"),
        adult_men=sum(1 for m in adults if m.sex == "M"),
        minors=len(ages) - len(adults),
        oldest_boy=max(boys, default=-1),
        single_adult_sex=single,
    )


# --- eligibility (rules 4–7) ------------------------------------------------------------


def eligibility_failures(h: Household, s: Shelter, km: float | None = None) -> list[str]:
    """Rule codes (from :data:`ELIGIBILITY_RULES`) that forbid ``s`` for ``h``; [] if none.

    ``km`` is distance(origin, shelter); computed if not given.
    """
    table = ShelterTable.from_shelters([s])
    kms = None if km is None else np.array([km], dtype=np.float64)
    fails = household_failures(table, h, kms)
    return [code for code in ELIGIBILITY_RULES if bool(fails[code][0])]


def eligibility_sentence(h: Household, s: Shelter, codes: Iterable[str], km: float) -> str:
    """One sentence explaining why ``s`` is not eligible for ``h`` (for checks and options)."""
    p = profile(h)
    parts: list[str] = []
    for code in codes:
        if code == "excluded":
            parts.append(f"shelter {s.id} is in the household's excluded_shelters (rule 7)")
        elif code == "women":
            parts.append(f"shelter {s.id} does not take women (rule 4)")
        elif code == "men":
            parts.append(f"shelter {s.id} does not take men (rule 4)")
        elif code == "children":
            parts.append(f"shelter {s.id} does not take children (rule 4)")
        elif code == "max_boy_age":
            parts.append(
                f"shelter {s.id} takes boys up to {s.max_boy_age}, the household has a boy "
                f"aged {p.oldest_boy} (rule 4)"
            )
        elif code in ("dv_specialised", "secure", "pets"):
            parts.append(f"the household needs {code} and shelter {s.id} is not (rule 4)")
        elif code == "wheelchair":
            parts.append(
                f"the household needs wheelchair access and shelter {s.id} has none (rule 4)"
            )
        elif code == "max_km":
            parts.append(f"shelter {s.id} is {km:.1f} km away, beyond max_km {h.max_km:g} (rule 5)")
        elif code == "avoid":
            where = "lies inside" if s.margin_km == 0 else "may lie inside"
            parts.append(f"shelter {s.id} {where} one of the household's safety zones (rule 6)")
    return "; ".join(parts)


@dataclass(frozen=True)
class ShelterTable:
    """Shelters as numpy columns, for vectorised eligibility over a whole problem."""

    ids: list[str]
    index: dict[str, int]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    women: npt.NDArray[np.bool_]
    men: npt.NDArray[np.bool_]
    children: npt.NDArray[np.bool_]
    max_boy_age: npt.NDArray[np.int64]  # _NO_LIMIT when null
    dv_specialised: npt.NDArray[np.bool_]
    secure: npt.NDArray[np.bool_]
    pets: npt.NDArray[np.bool_]
    wheelchair: npt.NDArray[np.bool_]
    margin: npt.NDArray[np.float64]  # Shelter.margin_km: how far the true position may be

    @classmethod
    def from_shelters(cls, shelters: Sequence[Shelter]) -> ShelterTable:
        def col(name: str) -> npt.NDArray[np.bool_]:
            return np.array([bool(getattr(s, name)) for s in shelters], dtype=bool)

        return cls(
            ids=[s.id for s in shelters],
            index={s.id: i for i, s in enumerate(shelters)},
            lat=np.array([s.lat for s in shelters], dtype=np.float64),
            lon=np.array([s.lon for s in shelters], dtype=np.float64),
            women=col("women"),
            men=col("men"),
            children=col("children"),
            max_boy_age=np.array(
                [_NO_LIMIT if s.max_boy_age is None else s.max_boy_age for s in shelters],
                dtype=np.int64,
            ),
            dv_specialised=col("dv_specialised"),
            secure=col("secure"),
            pets=col("pets"),
            wheelchair=col("wheelchair"),
            margin=np.array([s.margin_km for s in shelters], dtype=np.float64),
        )

    @classmethod
    def from_problem(cls, problem: Problem) -> ShelterTable:
        return cls.from_shelters(problem.shelters)

    def __len__(self) -> int:
        return len(self.ids)


def household_km(table: ShelterTable, h: Household) -> npt.NDArray[np.float64]:
    """Distance in km from ``h``'s origin to every shelter of ``table``."""
    km: npt.NDArray[np.float64] = haversine_matrix(
        [h.origin.lat], [h.origin.lon], table.lat, table.lon
    )[0]
    return km


def household_failures(
    table: ShelterTable, h: Household, km: npt.NDArray[np.float64] | None = None
) -> dict[str, npt.NDArray[np.bool_]]:
    """For each eligibility code, a boolean array over ``table``: True where the rule fails.

    ``km`` (distance origin→shelter, as from :func:`household_km`) is computed if not given.
    The result also holds the key ``"km"`` -> nothing; use :func:`eligible_mask` to combine.
    """
    n = len(table)
    p = profile(h)
    if km is None:
        km = household_km(table, h)
    none = np.zeros(n, dtype=bool)
    fails: dict[str, npt.NDArray[np.bool_]] = {}
    excluded = none.copy()
    for sid in h.excluded_shelters:
        j = table.index.get(sid)
        if j is not None:
            excluded[j] = True
    fails["excluded"] = excluded
    fails["women"] = ~table.women if p.adult_women else none
    fails["men"] = ~table.men if p.adult_men else none
    fails["children"] = ~table.children if p.minors else none
    fails["max_boy_age"] = table.max_boy_age < p.oldest_boy if p.oldest_boy >= 0 else none
    fails["dv_specialised"] = ~table.dv_specialised if h.needs.dv_specialised else none
    fails["secure"] = ~table.secure if h.needs.secure else none
    fails["pets"] = ~table.pets if h.needs.pets else none
    fails["wheelchair"] = ~table.wheelchair if h.needs.wheelchair else none
    fails["max_km"] = km > h.max_km if h.max_km is not None else none
    fails["avoid"] = in_safety_zone(table, h, np.arange(n)) if h.avoid else none
    return fails


def in_safety_zone(
    table: ShelterTable, h: Household, idx: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Rule 6 for the shelters ``table[idx]``: True where one may lie inside a zone of ``h``.

    Judged over the whole disc where a shelter may be (``margin``), so that a shelter shown at
    a cell centre is refused whenever any point of it is in a zone: the true position is never
    inside one, and the answer does not depend on where in the disc the shelter really is.
    """
    d = haversine_matrix(
        [z.lat for z in h.avoid], [z.lon for z in h.avoid], table.lat[idx], table.lon[idx]
    )
    radius = np.array([z.km for z in h.avoid], dtype=np.float64)[:, None]
    return np.asarray((d < radius + table.margin[idx][None, :]).any(axis=0), dtype=bool)


def eligible_mask(fails: dict[str, npt.NDArray[np.bool_]]) -> npt.NDArray[np.bool_]:
    """True where no eligibility rule fails."""
    out = np.ones_like(next(iter(fails.values())), dtype=bool)
    for code in ELIGIBILITY_RULES:
        out &= ~fails[code]
    return out


@dataclass(frozen=True)
class EligiblePairs:
    """Sparse list of (household, shelter) pairs passing rules 4–7, with their distance."""

    household: npt.NDArray[np.int64]  # index into problem.households
    shelter: npt.NDArray[np.int64]  # index into problem.shelters
    km: npt.NDArray[np.float64]
    #: Per household (only with ``nearest``): True if eligible shelters beyond the nearest
    #: ``nearest`` were dropped.
    truncated: npt.NDArray[np.bool_] | None = None


def _rule4_classes(
    hs: Sequence[Household],
    profs: Sequence[Profile],
    table: ShelterTable,
    extra_mask: npt.NDArray[np.bool_] | None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Rule 4 depends on a household only through a few flags: (class per household, one
    shelter mask per class), ``extra_mask`` applied."""
    classes: dict[tuple[bool, bool, bool, int, bool, bool, bool, bool], int] = {}
    cls = np.empty(len(hs), dtype=np.int64)
    for i, (h, p) in enumerate(zip(hs, profs, strict=True)):
        key = (
            p.adult_women > 0,
            p.adult_men > 0,
            p.minors > 0,
            p.oldest_boy,
            h.needs.dv_specialised,
            h.needs.secure,
            h.needs.pets,
            h.needs.wheelchair,
        )
        cls[i] = classes.setdefault(key, len(classes))
    class_mask = np.ones((len(classes), len(table)), dtype=bool)
    for flags, k in classes.items():
        w, m, kids, boy, dv, sec, pets, wc = flags
        row = class_mask[k]
        if w:
            row &= table.women
        if m:
            row &= table.men
        if kids:
            row &= table.children
        if boy >= 0:
            row &= table.max_boy_age >= boy
        if dv:
            row &= table.dv_specialised
        if sec:
            row &= table.secure
        if pets:
            row &= table.pets
        if wc:
            row &= table.wheelchair
        if extra_mask is not None:
            row &= extra_mask
    return cls, class_mask


def _sparse_clauses(
    hs: Sequence[Household], table: ShelterTable, ok: npt.NDArray[np.bool_], start: int
) -> None:
    """Rules 7 and 6 on a chunk's mask (households ``start``...): few households have them."""
    for r in range(ok.shape[0]):
        h = hs[start + r]
        row = ok[r]
        for sid in h.excluded_shelters:
            j = table.index.get(sid)
            if j is not None:
                row[j] = False
        if h.avoid and row.any():
            cand = np.flatnonzero(row)
            row[cand[in_safety_zone(table, h, cand)]] = False


def _nearest_of(
    ok: npt.NDArray[np.bool_], a: npt.NDArray[np.float64], nearest: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(row, shelter, a) of each row's ``nearest`` passing shelters, nearest first."""
    masked = np.where(ok, a, np.inf)
    part = np.argpartition(masked, nearest - 1, axis=1)[:, :nearest]
    pk = np.take_along_axis(masked, part, axis=1)
    order = np.argsort(pk, axis=1, kind="stable")
    part = np.take_along_axis(part, order, axis=1)
    pk = np.take_along_axis(pk, order, axis=1)
    r, c = np.nonzero(np.isfinite(pk))
    return r.astype(np.int64), part[r, c].astype(np.int64), pk[r, c]


def eligible_pairs(
    problem: Problem,
    table: ShelterTable | None = None,
    max_cells: int = 2_000_000,
    extra_mask: npt.NDArray[np.bool_] | None = None,
    nearest: int | None = None,
    pair_filter: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.bool_]] | None = None,
) -> EligiblePairs:
    """All (household, shelter) pairs passing rules 4–7, vectorised and chunked.

    Households are processed in chunks so that a chunk×shelters matrix stays under
    ``max_cells`` cells (memory stays bounded on national problems). ``extra_mask`` (a
    bool array over shelters) restricts shelters further, e.g. to those with free rooms;
    ``pair_filter`` maps a chunk's household indices to a chunk×shelters mask (e.g. a
    necessary room-fit test). ``nearest`` keeps only the K nearest passing shelters per
    household and flags the households that lost some in ``truncated``.
    Pairs come out sorted by household index, then shelter index (by km with ``nearest``).
    """
    table = table or ShelterTable.from_problem(problem)
    hs = problem.households
    n_s = len(table)
    if n_s == 0 or not hs:
        empty_i = np.zeros(0, dtype=np.int64)
        return EligiblePairs(empty_i, empty_i.copy(), np.zeros(0, dtype=np.float64))
    profs = [profile(h) for h in hs]
    o_lat = np.array([h.origin.lat for h in hs])
    o_lon = np.array([h.origin.lon for h in hs])
    max_km = np.array([math.inf if h.max_km is None else h.max_km for h in hs])
    # Slightly generous threshold in the fast formula; exact km confirm the survivors below.
    max_a = np.where(np.isinf(max_km), np.inf, km_to_a(np.where(np.isinf(max_km), 0, max_km)))
    max_a = np.where(np.isinf(max_a), np.inf, max_a * (1 + 1e-9) + 1e-15)
    cls, class_mask = _rule4_classes(hs, profs, table, extra_mask)
    chunk = max(1, max_cells // n_s)
    out_h: list[npt.NDArray[np.int64]] = []
    out_s: list[npt.NDArray[np.int64]] = []
    out_km: list[npt.NDArray[np.float64]] = []
    trunc_parts: list[npt.NDArray[np.bool_]] = []
    for start in range(0, len(hs), chunk):
        sl = slice(start, min(len(hs), start + chunk))
        km = haversine_a_matrix(o_lat[sl], o_lon[sl], table.lat, table.lon)  # ``a``, not km
        ok = class_mask[cls[sl]]
        ok &= km <= max_a[sl, None]
        _sparse_clauses(hs, table, ok, start)
        if pair_filter is not None:
            ok &= pair_filter(np.arange(sl.start, sl.stop, dtype=np.int64))
        if nearest is not None and nearest < n_s:
            trunc_parts.append(ok.sum(axis=1) > nearest)
            r, c, a = _nearest_of(ok, km, nearest)
            out_h.append(r + start)
            out_s.append(c)
            out_km.append(a)
            continue
        r, c = np.nonzero(ok)
        out_h.append((r + start).astype(np.int64))
        out_s.append(c.astype(np.int64))
        out_km.append(km[r, c])
    hh = np.concatenate(out_h)
    ss = np.concatenate(out_s)
    # Exact distances for the kept pairs, and the exact rule 5 test on them.
    exact = haversine_pairs(o_lat[hh], o_lon[hh], table.lat[ss], table.lon[ss])
    keep = exact <= max_km[hh]
    truncated = None
    if nearest is not None:
        truncated = np.concatenate(trunc_parts) if trunc_parts else np.zeros(len(hs), dtype=bool)
    return EligiblePairs(hh[keep], ss[keep], exact[keep], truncated)


# --- room fit (rules 2–3) ---------------------------------------------------------------


def private_fit_errors(
    h: Household, rooms: Sequence[Room], max_rooms: int, p: Profile | None = None
) -> list[str]:
    """Why ``rooms`` (private rooms of one shelter) cannot take ``h`` (rule 2); [] if they can.

    Checks: 1..max_rooms rooms, none shared, beds ≥ members aged 3+, beds+cribs ≥ members,
    and only wheelchair rooms for a household that needs wheelchair access.
    """
    p = p or profile(h)
    errs: list[str] = []
    if not rooms:
        errs.append("no room given (rule 2)")
        return errs
    if len(rooms) > max_rooms:
        errs.append(f"{len(rooms)} rooms exceed max_rooms_per_household {max_rooms} (rule 2)")
    shared = [r.id for r in rooms if r.shared]
    if shared:
        errs.append(
            f"shared room(s) {', '.join(shared)} mixed with others; a household uses private "
            "rooms or exactly one shared room (rule 2)"
        )
    beds = sum(r.beds for r in rooms)
    cribs = sum(r.cribs for r in rooms)
    if p.needs_bed > beds:
        errs.append(f"{p.needs_bed} members aged 3 or more but only {beds} beds (rule 2)")
    if p.size > beds + cribs:
        errs.append(f"{p.size} members but only {beds} beds + {cribs} cribs (rule 2)")
    if h.needs.wheelchair:
        bad = [r.id for r in rooms if not r.wheelchair]
        if bad:
            errs.append(
                f"the household needs wheelchair access and room(s) {', '.join(bad)} are not "
                "wheelchair rooms (rule 4)"
            )
    return errs


def shared_fit_errors(h: Household, room: Room, p: Profile | None = None) -> list[str]:
    """Why ``h`` may not take a bed in shared ``room`` (rule 3, wheelchair rooms); [] if it may.

    Capacity (people in the room ≤ its beds) depends on the others placed there and is the
    caller's business; a room with no beds at all is reported here.
    """
    p = p or profile(h)
    errs: list[str] = []
    if not p.shared_ok:
        errs.append(
            f"shared room {room.id} is only for a household of exactly one adult and no "
            "children (rule 3)"
        )
    elif p.single_adult_sex != room.sex:
        errs.append(
            f"shared room {room.id} is for sex {room.sex}, the household's adult is "
            f"{p.single_adult_sex} (rule 3)"
        )
    if room.beds < 1:
        errs.append(f"shared room {room.id} has no free bed (rule 3)")
    if h.needs.wheelchair and not room.wheelchair:
        errs.append(
            f"the household needs wheelchair access and room {room.id} is not a wheelchair "
            "room (rule 4)"
        )
    return errs


def room_set_errors(
    h: Household, rooms: Sequence[Room], max_rooms: int, p: Profile | None = None
) -> list[str]:
    """Rules 2–3 for one household in ``rooms`` (all of one shelter), private or shared."""
    if len(rooms) == 1 and rooms[0].shared:
        return shared_fit_errors(h, rooms[0], p)
    return private_fit_errors(h, rooms, max_rooms, p)


def beds_used(h_or_p: Household | Profile, rooms: Sequence[Room]) -> int:
    """Beds of private ``rooms`` slept in: members 3+, and babies beyond the cribs."""
    p = h_or_p if isinstance(h_or_p, Profile) else profile(h_or_p)
    return beds_slept(p, sum(r.cribs for r in rooms))


def beds_slept(p: Profile, cribs: int) -> int:
    """Beds a household sleeps in given ``cribs``: members 3+, and babies beyond the cribs
    (the wasted-beds count of level 4 written once)."""
    return p.needs_bed + max(0, p.under3 - cribs)


def wasted_beds(h_or_p: Household | Profile, rooms: Sequence[Room]) -> int:
    """Beds left empty in the private ``rooms`` given to a household (0 for a shared bed)."""
    if len(rooms) == 1 and rooms[0].shared:
        return 0
    return max(0, sum(r.beds for r in rooms) - beds_used(h_or_p, rooms))


@dataclass(frozen=True)
class RoomType:
    """Identical private rooms of one shelter: same beds, cribs and wheelchair access."""

    beds: int
    cribs: int
    wheelchair: bool
    room_ids: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.room_ids)


@dataclass(frozen=True)
class SharedPool:
    """A shelter's shared beds for one sex, aggregated over its shared rooms.

    Each single adult takes one bed; Hall's condition makes the pool exact: a set of people
    fits iff wheelchair users ≤ ``wheelchair_beds`` and everyone ≤ ``beds``.
    """

    sex: str
    beds: int
    wheelchair_beds: int
    rooms: tuple[Room, ...] = field(default=())


def room_types(rooms: Iterable[Room], crib_cap: int | None = None) -> list[RoomType]:
    """Group the private rooms (with at least one bed or crib) into types, largest first.

    ``crib_cap``: cribs counted at most this many per room. With the most under-3 members
    of any household of the night, it is lossless: rule 2 asks beds ≥ members aged 3+ and
    beds + cribs ≥ everyone, so past a household's babies a crib changes neither its fit nor
    its wasted beds. It merges rooms that differ only in unusable cribs into one type (80
    rooms differing by cribs made 80 types and stalled CP-SAT's symmetry search).
    """
    groups: dict[tuple[int, int, bool], list[str]] = {}
    for r in rooms:
        cribs = r.cribs if crib_cap is None else min(r.cribs, crib_cap)
        if r.shared or r.beds + cribs == 0:
            continue
        groups.setdefault((r.beds, cribs, r.wheelchair), []).append(r.id)
    keys = sorted(groups, key=lambda k: (-k[0], -k[1], not k[2]))
    return [RoomType(b, c, w, tuple(groups[(b, c, w)])) for b, c, w in keys]


def shared_pools(rooms: Iterable[Room]) -> dict[str, SharedPool]:
    """Shared rooms aggregated by sex (only sexes with at least one free bed)."""
    by_sex: dict[str, list[Room]] = {}
    for r in rooms:
        if r.shared and r.beds > 0 and r.sex is not None:
            by_sex.setdefault(r.sex, []).append(r)
    return {
        sex: SharedPool(
            sex=sex,
            beds=sum(r.beds for r in rs),
            wheelchair_beds=sum(r.beds for r in rs if r.wheelchair),
            rooms=tuple(rs),
        )
        for sex, rs in by_sex.items()
    }


def minimal_combos(
    p: Profile, types: Sequence[RoomType], max_rooms: int, wheelchair: bool
) -> list[tuple[int, ...]]:
    """Minimal multisets of room types that take the household (rule 2).

    Each combo is a sorted tuple of indices into ``types`` (repeats allowed up to a type's
    count), at most ``max_rooms`` long, that fits and from which no room can be removed
    while still fitting. Any fitting set of rooms contains a minimal one, so restricting
    the model to minimal combos loses no placement, and a minimal subset never wastes more.
    """
    return bounded_minimal_combos(p, types, max_rooms, wheelchair, None)[0]


def beds_fit(p: Profile, beds: int, cribs: int) -> bool:
    """Rule 2 on totals: beds for everyone aged 3+, and a bed or a crib for everyone."""
    return beds >= p.needs_bed and beds + cribs >= p.size


class _ComboSearch:
    """Depth-first enumeration of minimal room sets, counting the partial sets it tries."""

    def __init__(
        self,
        p: Profile,
        types: Sequence[RoomType],
        max_rooms: int,
        wheelchair: bool,
        max_steps: int | None,
    ) -> None:
        self.p = p
        self.types = types
        self.max_rooms = max_rooms
        self.max_steps = max_steps
        self.usable = [i for i, t in enumerate(types) if t.wheelchair or not wheelchair]
        self.out: list[tuple[int, ...]] = []
        self.steps = 0

    def _minimal(self, chosen: list[int], beds: int, cribs: int) -> bool:
        """Removing any single room breaks the fit."""
        ts = self.types
        return all(
            not beds_fit(self.p, beds - ts[i].beds, cribs - ts[i].cribs) for i in set(chosen)
        )

    def extend(self, start: int, chosen: list[int], beds: int, cribs: int) -> None:
        if chosen and beds_fit(self.p, beds, cribs):
            if self._minimal(chosen, beds, cribs):
                self.out.append(tuple(chosen))
            return  # adding rooms to a fitting set is never minimal
        if len(chosen) == self.max_rooms:
            return
        self.steps += 1
        if self.max_steps is not None and self.steps > self.max_steps:
            return
        for k in range(start, len(self.usable)):
            i = self.usable[k]
            t = self.types[i]
            if chosen.count(i) >= t.count:
                continue
            chosen.append(i)
            self.extend(k, chosen, beds + t.beds, cribs + t.cribs)
            chosen.pop()

    @property
    def complete(self) -> bool:
        return self.max_steps is None or self.steps <= self.max_steps


def bounded_minimal_combos(
    p: Profile,
    types: Sequence[RoomType],
    max_rooms: int,
    wheelchair: bool,
    max_steps: int | None,
) -> tuple[list[tuple[int, ...]], bool]:
    """``minimal_combos`` stopped after ``max_steps`` partial sets: (combos, complete).

    The count of sets grows like types^max_rooms (100 room types, 4 rooms: 4M), so the
    engine bounds it and says so; the combos found first are those of the largest rooms.
    """
    search = _ComboSearch(p, types, max_rooms, wheelchair, max_steps)
    search.extend(0, [], 0, 0)
    return search.out, search.complete


def combo_wasted(p: Profile, types: Sequence[RoomType], combo: Sequence[int]) -> int:
    """Wasted beds of a room-type combo (as :func:`wasted_beds` for rooms)."""
    beds = sum(types[i].beds for i in combo)
    cribs = sum(types[i].cribs for i in combo)
    return max(0, beds - beds_slept(p, cribs))


def best_room_set(
    h: Household, rooms: Sequence[Room], max_rooms: int, p: Profile | None = None
) -> list[str] | None:
    """The best free rooms of one shelter for ``h`` alone, or None if none fit (rules 2–3).

    A single adult takes a bed in a shared room of their sex when there is one (it keeps
    private rooms for families); otherwise the minimal private set with the fewest wasted
    beds, then the fewest rooms.
    """
    p = p or profile(h)
    if p.shared_ok:
        for r in rooms:
            if r.shared and not shared_fit_errors(h, r, p):
                return [r.id]
    types = room_types(rooms)
    combos = minimal_combos(p, types, max_rooms, h.needs.wheelchair)
    if not combos:
        return None
    best = min(combos, key=lambda c: (combo_wasted(p, types, c), len(c), c))
    return combo_room_ids(types, best)


def combo_room_ids(types: Sequence[RoomType], combo: Sequence[int]) -> list[str]:
    """Concrete room ids for a combo, taking each type's rooms in order."""
    used: dict[int, int] = {}
    ids: list[str] = []
    for i in combo:
        k = used.get(i, 0)
        ids.append(types[i].room_ids[k])
        used[i] = k + 1
    return ids


def largest_private_capacity(
    h: Household, rooms: Sequence[Room], max_rooms: int
) -> tuple[int, int]:
    """(beds, cribs) of the biggest set of ≤ max_rooms usable private rooms (for details)."""
    usable = [r for r in rooms if not r.shared and (r.wheelchair or not h.needs.wheelchair)]
    usable.sort(key=lambda r: (r.beds + r.cribs, r.beds), reverse=True)
    top = usable[:max_rooms]
    return sum(r.beds for r in top), sum(r.cribs for r in top)


def capacity_columns(
    problem: Problem,
    types: list[list[RoomType]] | None = None,
    pools: list[dict[str, SharedPool]] | None = None,
) -> dict[str, npt.NDArray[np.int64]]:
    """Per shelter (numpy columns), upper bounds of what ≤ max_rooms rooms can hold.

    Keys: ``beds``/``total`` (beds, beds+cribs of the best private rooms), the same for
    wheelchair rooms only (``wc_beds``/``wc_total``), and free shared beds per sex
    (``shared_F``, ``shared_M``, ``shared_F_wc``, ``shared_M_wc``). See :func:`fit_possible`.
    """
    if types is None:
        types = [room_types(s.rooms) for s in problem.shelters]
    if pools is None:
        pools = [shared_pools(s.rooms) for s in problem.shelters]
    n = len(problem.shelters)
    out = {name: np.zeros(n, dtype=np.int64) for name in CAPACITY_COLUMNS}
    for j, (ts, ps) in enumerate(zip(types, pools, strict=True)):
        for name, value in shelter_capacity(
            ts, ps, problem.settings.max_rooms_per_household
        ).items():
            out[name][j] = value
    return out


#: The keys of :func:`capacity_columns` (and :func:`shelter_capacity`).
CAPACITY_COLUMNS = (
    "beds",
    "total",
    "wc_beds",
    "wc_total",
    "shared_F",
    "shared_M",
    "shared_F_wc",
    "shared_M_wc",
)


def shelter_capacity(
    types: Sequence[RoomType], pools: dict[str, SharedPool], max_rooms: int
) -> dict[str, int]:
    """One shelter's entries of :func:`capacity_columns` (a shelter whose free rooms change,
    e.g. while a greedy plan fills it, recomputes only its own)."""
    k = max_rooms
    out = dict.fromkeys(CAPACITY_COLUMNS, 0)
    for wc_only, bk, tk in ((False, "beds", "total"), (True, "wc_beds", "wc_total")):
        rooms_b: list[int] = []
        rooms_t: list[int] = []
        for t in types:
            if wc_only and not t.wheelchair:
                continue
            rooms_b += [t.beds] * min(t.count, k)
            rooms_t += [t.beds + t.cribs] * min(t.count, k)
        out[bk] = sum(sorted(rooms_b, reverse=True)[:k])
        out[tk] = sum(sorted(rooms_t, reverse=True)[:k])
    for sex, pool in pools.items():
        out[f"shared_{sex}"] = pool.beds
        out[f"shared_{sex}_wc"] = pool.wheelchair_beds
    return out


def fit_possible(
    caps: dict[str, npt.NDArray[np.int64]], h: Household, p: Profile | None = None
) -> npt.NDArray[np.bool_]:
    """Per shelter, a necessary condition for its free rooms to take ``h`` (rules 2–3).

    False means no room set can fit; True means one may (confirm with :func:`best_room_set`).
    """
    p = p or profile(h)
    return fit_possible_class(caps, p.needs_bed, p.size, h.needs.wheelchair, p.single_adult_sex)


def fit_possible_class(
    caps: dict[str, npt.NDArray[np.int64]],
    needs_bed: int,
    size: int,
    wheelchair: bool,
    single_adult_sex: str | None,
) -> npt.NDArray[np.bool_]:
    """:func:`fit_possible` for every household of one size class (the test written once).

    A household matters to it only through these four facts, so the engine computes one
    shelter mask per class instead of one per household.
    """
    beds = caps["wc_beds"] if wheelchair else caps["beds"]
    total = caps["wc_total"] if wheelchair else caps["total"]
    ok: npt.NDArray[np.bool_] = (needs_bed <= beds) & (size <= total)
    if single_adult_sex is not None:
        sex = single_adult_sex
        ok |= (caps[f"shared_{sex}_wc"] if wheelchair else caps[f"shared_{sex}"]) > 0
    return ok


# --- keep apart (rule 8) ----------------------------------------------------------------


def keep_apart_pairs(problem: Problem) -> dict[tuple[int, int], float]:
    """Rule 8 pairs as {(i, j): km} with household indices i < j.

    A pair counts whichever side declares it; if both do, the larger distance applies.
    """
    index = {h.id: i for i, h in enumerate(problem.households)}
    pairs: dict[tuple[int, int], float] = {}
    for i, h in enumerate(problem.households):
        for ka in h.keep_apart:
            j = index.get(ka.household)
            if j is None or j == i:
                continue
            key = (min(i, j), max(i, j))
            pairs[key] = max(pairs.get(key, 0.0), ka.km)
    return pairs


def keep_apart_ok(shelter_a: Shelter, shelter_b: Shelter, km: float) -> bool:
    """Rule 8 for two placed households: different shelters at least ``km`` apart."""
    if shelter_a.id == shelter_b.id:
        return False
    table = ShelterTable.from_shelters([shelter_a, shelter_b])
    return bool(apart_enough(table, np.array([0]), np.array([1]), km)[0, 0])


def apart_enough(
    table: ShelterTable, sa: npt.NDArray[np.int64], sb: npt.NDArray[np.int64], km: float
) -> npt.NDArray[np.bool_]:
    """Rule 8 as a matrix: may households at shelters ``sa[i]`` and ``sb[j]`` both be placed?

    Yes for different shelters (indices into ``table``) whose possible positions (each within
    its ``margin``) are all at least ``km`` apart: distance ≥ km + both margins.
    """
    sa, sb = np.asarray(sa, dtype=np.int64), np.asarray(sb, dtype=np.int64)
    d = haversine_matrix(table.lat[sa], table.lon[sa], table.lat[sb], table.lon[sb])
    need = km + table.margin[sa][:, None] + table.margin[sb][None, :]
    return np.asarray((d >= need) & (sa[:, None] != sb[None, :]), dtype=bool)


def km_for_plan(km: float) -> float:
    """Distance as written in a plan: rounded to 0.1 km."""
    return round(float(km), 1)


__all__ = [
    "CAPACITY_COLUMNS",
    "CRIB_AGE",
    "ELIGIBILITY_RULES",
    "RULE_WORDING",
    "EligiblePairs",
    "Profile",
    "RoomType",
    "SharedPool",
    "ShelterTable",
    "apart_enough",
    "beds_fit",
    "beds_slept",
    "beds_used",
    "best_room_set",
    "capacity_columns",
    "combo_room_ids",
    "combo_wasted",
    "eligibility_failures",
    "eligibility_sentence",
    "eligible_mask",
    "eligible_pairs",
    "fit_possible",
    "fit_possible_class",
    "household_failures",
    "household_km",
    "in_safety_zone",
    "keep_apart_ok",
    "keep_apart_pairs",
    "km_for_plan",
    "largest_private_capacity",
    "minimal_combos",
    "private_fit_errors",
    "profile",
    "room_set_errors",
    "room_types",
    "shared_fit_errors",
    "shared_pools",
    "shelter_capacity",
    "wasted_beds",
]
