"""A valid level-1 bound for a *pruned* model: the LP's duals priced over every pair.

When a problem has too many (household, shelter) pairs, the model keeps each household's
nearest shelters only, and the LP of that model bounds the model, not the problem. Its
dual values still give a bound on the problem by Lagrangian relaxation: dualise the
capacity rows (with the LP's multipliers π ≥ 0) and the "tier u ≥ pin" rows (λ ≥ 0), keep
"at most one candidate per household"; the relaxed problem splits per household, so

    L = Σ_r π_r·cap_r − Σ_u λ_u·pin_u + Σ_h max(0, max over h's candidates of
        people_h·([tier h = t] + λ_tier(h)) − Σ_r π_r·A_r,candidate)

bounds the LP of the *full* problem, hence every plan, for any π, λ ≥ 0. Rows that the
pruned model did not need (not binding on its candidates) get π = 0, which is allowed.
Pairs the model kept are priced exactly (their candidates' rows); the others with a lower
bound of their price (a smaller price only raises L): a one-person household pays its
cheapest option (any room with a bed, or its sex's shared pool), a larger household at
least one room with a bed (the cheapest such room type, plus the Hall rows). With the
pruned model's own optimal duals, L equals its LP value when no omitted pair prices
positive, and exceeds it by what the omitted shelters could still add otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..models import Problem
from ..rules import EligiblePairs, Profile, RoomType, SharedPool


@dataclass
class _Prices:
    """The capacity rows' multipliers π, per kind of row, and what they charge."""

    const: float  # Σ π_r·cap_r
    price: npt.NDArray[np.float64]  # per kept candidate: Σ_r π_r·A_r,candidate
    hall: npt.NDArray[np.float64]  # per shelter
    hall_wc: npt.NDArray[np.float64]
    pool: dict[str, npt.NDArray[np.float64]]  # per sex, per shelter
    pool_wc: dict[str, npt.NDArray[np.float64]]
    type_price: dict[tuple[int, int], float]  # per (shelter, room type)


def _row_prices(
    rows: Sequence[tuple[tuple[object, ...], Sequence[int], Sequence[int], int]],
    row_duals: Sequence[float],
    n_s: int,
    n_c: int,
) -> _Prices:
    pr = _Prices(
        0.0,
        np.zeros(n_c),
        np.zeros(n_s),
        np.zeros(n_s),
        {"F": np.zeros(n_s), "M": np.zeros(n_s)},
        {"F": np.zeros(n_s), "M": np.zeros(n_s)},
        {},
    )
    for (key, vs, ks, ub), dual in zip(rows, row_duals, strict=True):
        kind = key[0] if key else ""
        if kind not in ("type", "hall", "hall_wc", "pool", "pool_wc"):
            continue  # household rows are kept; keep-apart rows dropped (a relaxation)
        pi = max(0.0, dual)
        if pi <= 0.0:
            continue
        pr.const += pi * ub
        j = int(key[1])  # type: ignore[call-overload]
        if kind == "type":
            pr.type_price[(j, int(key[2]))] = pi  # type: ignore[call-overload]
        elif kind == "hall":
            pr.hall[j] = pi
        elif kind == "hall_wc":
            pr.hall_wc[j] = pi
        elif kind == "pool":
            pr.pool[str(key[2])][j] = pi
        else:
            pr.pool_wc[str(key[2])][j] = pi
        np.add.at(pr.price, np.asarray(vs, dtype=np.int64), pi * np.asarray(ks, dtype=np.float64))
    return pr


def _left_out_price(
    problem: Problem,
    profiles: Sequence[Profile],
    types: Sequence[Sequence[RoomType]],
    pools: Sequence[dict[str, SharedPool]],
    bed_rooms: Sequence[int],
    bed_wc_rooms: Sequence[int],
    pr: _Prices,
    ph: npt.NDArray[np.int64],
    ps: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """A lower bound of the price of each left-out pair (household ph[k], shelter ps[k])."""
    hs = problem.households
    n_s = len(problem.shelters)
    wc = np.array([h.needs.wheelchair for h in hs], dtype=bool)
    single_bed = np.array([p.size == 1 and p.needs_bed == 1 for p in profiles], dtype=bool)
    needs_bed = np.array([p.needs_bed > 0 for p in profiles], dtype=bool)
    sex = np.array([p.single_adult_sex or "" for p in profiles])
    inf = math.inf
    # Cheapest room type with a bed per shelter (any, and wheelchair ones).
    min_bed = np.full(n_s, inf)
    min_bed_wc = np.full(n_s, inf)
    for j, ts in enumerate(types):
        for t, rt in enumerate(ts):
            if rt.beds > 0:
                cost = pr.type_price.get((j, t), 0.0)
                min_bed[j] = min(min_bed[j], cost)
                if rt.wheelchair:
                    min_bed_wc[j] = min(min_bed_wc[j], cost)
    has_any = np.asarray(bed_rooms) > 0
    has_any_wc = np.asarray(bed_wc_rooms) > 0
    pool_beds = {g: np.array([ps_[g].beds if g in ps_ else 0 for ps_ in pools]) for g in ("F", "M")}
    pool_wc_beds = {
        g: np.array([ps_[g].wheelchair_beds if g in ps_ else 0 for ps_ in pools])
        for g in ("F", "M")
    }
    hall, hall_wc = pr.hall, pr.hall_wc
    w = wc[ph]
    # Families (and one-person households who need no bed): one room with a bed at least.
    fam_price = np.where(w, hall[ps] + hall_wc[ps] + min_bed_wc[ps], hall[ps] + min_bed[ps])
    fam_price = np.where(needs_bed[ph], fam_price, 0.0)
    # One person needing a bed: any room with a bed, or a bed of the shared pool.
    any_price = np.where(
        w,
        np.where(has_any_wc[ps], hall[ps] + hall_wc[ps], inf),
        np.where(has_any[ps], hall[ps], inf),
    )
    pair_price: npt.NDArray[np.float64] = np.where(single_bed[ph], any_price, fam_price)
    for g in ("F", "M"):
        mine = sex[ph] == g
        ok = np.where(w, pool_wc_beds[g][ps] > 0, pool_beds[g][ps] > 0) & mine
        shared = np.where(w, pr.pool[g][ps] + pr.pool_wc[g][ps], pr.pool[g][ps])
        pair_price = np.where(ok, np.minimum(pair_price, shared), pair_price)
    return pair_price


def lagrangian_bound(
    problem: Problem,
    profiles: Sequence[Profile],
    types: Sequence[Sequence[RoomType]],
    pools: Sequence[dict[str, SharedPool]],
    bed_rooms: Sequence[int],
    bed_wc_rooms: Sequence[int],
    cand_household: Sequence[int],
    cand_shelter: Sequence[int],
    rows: Sequence[tuple[tuple[object, ...], Sequence[int], Sequence[int], int]],
    row_duals: Sequence[float],
    pin_duals: dict[int, float],
    pins: dict[int, int],
    tier: int,
    pairs: EligiblePairs,
) -> float:
    """Upper bound on the people of ``tier`` placed by any plan meeting ``pins``.

    ``rows`` are the model's rows as (key, candidates, coefficients, bound) with the keys of
    ``allocation.model.Row.key``; ``row_duals`` and ``pin_duals`` come from the LP just
    solved for this tier with these pins (``TierLP.row_duals``/``pin_duals``); ``pairs``
    are all the problem's pairs (``Prepared.all_pairs``).
    """
    hs = problem.households
    n_h, n_s = len(hs), len(problem.shelters)
    n_c = len(cand_household)
    pr = _row_prices(rows, row_duals, n_s, n_c)
    lam = {u: max(0.0, -d) for u, d in pin_duals.items()}
    const = pr.const - sum(lam.get(u, 0.0) * v for u, v in pins.items())

    size = np.array([p.size for p in profiles], dtype=np.float64)
    prio = np.array([h.priority for h in hs], dtype=np.int64)
    lam_h = np.array([lam.get(int(u), 0.0) for u in prio])
    value = size * ((prio == tier) + lam_h)

    best = np.zeros(n_h)  # max(0, ...) per household
    ch = np.asarray(cand_household, dtype=np.int64)
    if n_c:
        np.maximum.at(best, ch, value[ch] - pr.price)

    # Pairs the model left out, priced from below.
    ph, ps = pairs.household, pairs.shelter
    if len(ph):
        kept = np.unique(ch * n_s + np.asarray(cand_shelter, dtype=np.int64))
        out = ~np.isin(ph * n_s + ps, kept)
        ph, ps = ph[out], ps[out]
    if len(ph):
        pair_price = _left_out_price(
            problem, profiles, types, pools, bed_rooms, bed_wc_rooms, pr, ph, ps
        )
        d = value[ph] - pair_price
        finite = np.isfinite(d)
        np.maximum.at(best, ph[finite], d[finite])
    return const + float(best.sum())


def floor_bound(value: float) -> int:
    """People are integers: the bound floored, with a tolerance for GLOP's float duals."""
    return math.floor(value + 1e-6 * max(1.0, abs(value)))


__all__ = ["floor_bound", "lagrangian_bound"]
