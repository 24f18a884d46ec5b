"""Where could one household go if it were alone tonight?

:func:`household_options` answers the service's options endpoint; :func:`analyse` is the same
analysis reused by the solver to explain each unplaced household (the spec judges the code
"for that household alone").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from .models import Household, Problem, UnplacedCode
from .rules import (
    ELIGIBILITY_RULES,
    Profile,
    ShelterTable,
    best_room_set,
    capacity_columns,
    eligible_mask,
    fit_possible,
    household_failures,
    household_km,
    km_for_plan,
    largest_private_capacity,
    profile,
    shared_pools,
    wasted_beds,
)


class ShelterOption(BaseModel):
    shelter: str
    km: float
    rooms: list[str]
    language_match: bool
    wasted_beds: int


class HouseholdOptions(BaseModel):
    household: str
    options: list[ShelterOption]
    #: For each eligibility rule code, how many shelters it rules out (a shelter failing two
    #: rules counts under both).
    ruled_out: dict[str, int]
    #: Shelters passing rules 4–7 whose free rooms cannot take the household (rules 2–3).
    no_room_fits: int
    #: None when at least one shelter fits; else ``no_eligible_shelter`` or ``no_room_fits``.
    code: UnplacedCode | None = None
    detail: str


@dataclass(frozen=True)
class Analysis:
    """The household alone against every shelter (rules 2–7)."""

    km: npt.NDArray[np.float64]
    fails: dict[str, npt.NDArray[np.bool_]]
    eligible: npt.NDArray[np.bool_]
    options: list[ShelterOption]  # best first
    code: UnplacedCode | None
    detail: str

    @property
    def ruled_out(self) -> dict[str, int]:
        return {c: int(self.fails[c].sum()) for c in ELIGIBILITY_RULES}


def _people(p: Profile) -> str:
    return "1 person" if p.size == 1 else f"{p.size} people"


def _who(h: Household, p: Profile) -> str:
    if p.single_adult_sex is not None:
        return "a single woman" if p.single_adult_sex == "F" else "a single man"
    if p.oldest_boy >= 0:
        return f"a household of {p.size} with a boy aged {p.oldest_boy}"
    return f"a household of {p.size}"


def _rule_phrase(code: str, n: int, h: Household, p: Profile, nearest_far: float) -> str:
    if code == "max_km":
        return f"{n} are beyond {h.max_km:g} km (nearest {nearest_far:.1f} km)"
    if code == "max_boy_age":
        return f"{n} refuse a boy aged {p.oldest_boy}"
    if code == "excluded":
        return f"{n} excluded for this household"
    if code == "avoid":
        return f"{n} inside a safety zone"
    if code in ("dv_specialised", "secure"):
        word = "DV-specialised" if code == "dv_specialised" else "secure"
        return f"{n} are not {word}"
    if code == "wheelchair":
        return f"{n} are not wheelchair accessible"
    if code == "pets":
        return f"{n} refuse pets"
    return f"{n} refuse {code}"


def analyse(
    problem: Problem,
    h: Household,
    table: ShelterTable | None = None,
    max_options: int = 0,
    caps: dict[str, npt.NDArray[np.int64]] | None = None,
) -> Analysis:
    """Judge ``h`` alone against every shelter's free rooms.

    ``max_options`` > 0 stops looking for room sets once that many fitting shelters (the
    nearest first) are found: enough to explain a ``capacity_taken``. ``table`` and ``caps``
    (from :func:`~allocation.rules.capacity_columns`) can be passed when analysing many
    households of one problem.
    """
    table = table or ShelterTable.from_problem(problem)
    p = profile(h)
    km = household_km(table, h)
    fails = household_failures(table, h, km)
    eligible = eligible_mask(fails)
    max_rooms = problem.settings.max_rooms_per_household
    lang = h.needs.language
    options: list[ShelterOption] = []
    elig_idx = np.flatnonzero(eligible)
    elig_idx = elig_idx[np.argsort(km[elig_idx], kind="stable")]
    caps = caps if caps is not None else capacity_columns(problem)
    maybe = fit_possible(caps, h, p)
    for j in elig_idx:
        if not maybe[j]:
            continue
        s = problem.shelters[int(j)]
        ids = best_room_set(h, s.rooms, max_rooms, p)
        if ids is None:
            continue
        by_id = {r.id: r for r in s.rooms}
        options.append(
            ShelterOption(
                shelter=s.id,
                km=km_for_plan(km[j]),
                rooms=ids,
                language_match=lang is None or lang in s.languages,
                wasted_beds=wasted_beds(p, [by_id[i] for i in ids]),
            )
        )
        if max_options and len(options) >= max_options:
            break
    if options:
        options.sort(key=lambda o: (o.km, not o.language_match, o.wasted_beds))
        return Analysis(km, fails, eligible, options, None, _fits_detail(h, options))
    n_elig = len(elig_idx)
    if n_elig == 0:
        return Analysis(
            km, fails, eligible, [], "no_eligible_shelter", _no_eligible(h, p, km, fails, table)
        )
    return Analysis(
        km, fails, eligible, [], "no_room_fits", _no_room(problem, h, p, km, elig_idx, caps)
    )


def _fits_detail(h: Household, options: list[ShelterOption]) -> str:
    best = min(options, key=lambda o: o.km)
    n = len(options)
    return (
        f"{n} shelter{'s' if n > 1 else ''} could take this household alone "
        f"(nearest {best.shelter} at {best.km:.1f} km)"
    )


def _no_eligible(
    h: Household,
    p: Profile,
    km: npt.NDArray[np.float64],
    fails: dict[str, npt.NDArray[np.bool_]],
    table: ShelterTable,
) -> str:
    n = len(table)
    if n == 0:
        return "there are no shelters in the problem"
    parts = []
    for code in ELIGIBILITY_RULES:
        c = int(fails[code].sum())
        if c:
            far = km[fails["max_km"]]
            parts.append(_rule_phrase(code, c, h, p, float(far.min()) if far.size else 0.0))
    within = f" within {h.max_km:g} km" if h.max_km is not None else ""
    head = f"no shelter takes {_who(h, p)}{within} (of {n}): " + ", ".join(parts)
    # Nearest near miss: the shelter failing the fewest rules, nearest first.
    n_fail = np.zeros(len(km), dtype=np.int64)
    for rule in ELIGIBILITY_RULES:
        n_fail += fails[rule]
    j = int(np.lexsort((km, n_fail))[0])
    codes = [c for c in ELIGIBILITY_RULES if fails[c][j]]
    return (
        f"{head}; nearest near miss: {table.ids[j]} at {km[j]:.1f} km, "
        f"ruled out only by {', '.join(codes)}"
    )


def _no_room(
    problem: Problem,
    h: Household,
    p: Profile,
    km: npt.NDArray[np.float64],
    elig_idx: npt.NDArray[np.int64],
    caps: dict[str, npt.NDArray[np.int64]],
) -> str:
    n = len(elig_idx)
    within = f" within {h.max_km:g} km" if h.max_km is not None else ""
    verb = "shelters pass" if n > 1 else "shelter passes"
    head = f"{n} {verb} eligibility and safety{within}"
    max_rooms = problem.settings.max_rooms_per_household
    # The near miss: the eligible shelter whose best rooms hold the most (vectorised pick).
    total = caps["wc_total"] if h.needs.wheelchair else caps["total"]
    beds_col = caps["wc_beds"] if h.needs.wheelchair else caps["beds"]
    pick = elig_idx[np.lexsort((beds_col[elig_idx], total[elig_idx]))[-1]]
    best_j = int(pick)
    b0, c0 = largest_private_capacity(h, problem.shelters[best_j].rooms, max_rooms)
    best: tuple[int, int] | None = (b0 + c0, b0)
    wc = " wheelchair" if h.needs.wheelchair else ""
    if p.shared_ok:
        sex = "women" if p.single_adult_sex == "F" else "men"
        what = f"none has a free{wc} shared bed for {sex} or a free{wc} private room"
    else:
        crib = f" ({p.under3} under 3)" if p.under3 else ""
        what = f"none has{wc} private rooms for {_people(p)}{crib}"
        if max_rooms > 1:
            what += f" in at most {max_rooms} rooms"
    if best is None or best[0] == 0:
        tail = "(no free private room there)"
    else:
        b, c = best[1], best[0] - best[1]
        crib_txt = f" + {c} crib{'s' if c > 1 else ''}" if c else ""
        sid = problem.shelters[best_j].id
        tail = f"(largest: {b} beds{crib_txt} at {sid}, {km[best_j]:.1f} km)"
    return f"{head}; {what} {tail}"


def shared_capacity(problem: Problem) -> dict[str, int]:
    """Free shared beds by sex over the whole problem (for summaries)."""
    out = {"F": 0, "M": 0}
    for s in problem.shelters:
        for sex, pool in shared_pools(s.rooms).items():
            out[sex] += pool.beds
    return out


def household_options(problem: Problem, household_id: str) -> HouseholdOptions:
    """Shelters that could take this household alone tonight, best first.

    Best = nearest, then speaking its language, then fewest wasted beds. Each option gives
    the km and the best fitting set of free rooms. ``ruled_out`` counts the shelters each
    eligibility rule excludes; ``code``/``detail`` read like an unplaced reason when nothing
    fits. Raises ``KeyError`` for an unknown household id.
    """
    h = next((x for x in problem.households if x.id == household_id), None)
    if h is None:
        raise KeyError(household_id)
    a = analyse(problem, h)
    n_no_room = int(a.eligible.sum()) - len(a.options)
    return HouseholdOptions(
        household=h.id,
        options=a.options,
        ruled_out=a.ruled_out,
        no_room_fits=n_no_room,
        code=a.code,
        detail=a.detail,
    )


__all__ = ["Analysis", "HouseholdOptions", "ShelterOption", "analyse", "household_options"]
