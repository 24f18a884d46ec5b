"""The four objective levels as coefficients over the candidates.

1. people per tier (``tier_coeffs``; ``weights`` fold them into one sum on small problems);
2. fairness: minutes waited before the night's most recent request (``fairness``);
3. km in integer decametres (``km``);
4. fit: language misses first, then wasted beds (``fit``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..models import PRIORITIES, Problem
from .candidates import Prepared

#: Fairness: waiting minutes are capped (a month) to keep coefficients small.
MAX_WAIT_MIN = 43_200
#: km in the model are integer decametres (0.01 km).
KM_SCALE = 100


def wait_minutes(problem: Problem) -> list[int]:
    """Fairness weight: minutes waited before the most recent request of the night."""
    if not problem.households:
        return []
    stamps = [h.waiting_since.timestamp() for h in problem.households]
    latest = max(stamps)
    return [min(MAX_WAIT_MIN, int((latest - t) // 60)) for t in stamps]


def tier_weights(most: Mapping[int, int]) -> dict[int, int]:
    """Weights W_t making "people per tier, most urgent first" lexicographic in one sum.

    ``most[t]``: the most people of tier t any plan can place. W_1 = 1 and
    W_t = 1 + Σ_{u<t} W_u·most[u] (= Π_{u<t} (1 + most[u])): one more person of a tier
    outweighs every possible person of the tiers below.
    """
    weights: dict[int, int] = {}
    acc = 0
    for t in sorted(PRIORITIES):
        weights[t] = acc + 1
        acc += weights[t] * most[t]
    return weights


@dataclass(frozen=True)
class Objectives:
    """Per candidate: what it adds to each level (index v as in ``Candidates``)."""

    people: list[int]
    tier_of: list[int]
    #: U_t: people of tier t who fit somewhere alone, capped by the total capacity.
    ub: dict[int, int]
    weights: dict[int, int]  # tier_weights(ub)
    tier_coeffs: dict[int, list[int]]  # people if the candidate's tier is t, else 0
    waits: list[int]  # per household
    fairness: list[int]
    km: list[int]
    fit: list[int]

    def tier_values(self, values: Sequence[int]) -> dict[int, int]:
        """People placed per tier by the 0/1 ``values`` of the candidates."""
        out = dict.fromkeys(PRIORITIES, 0)
        for v in range(len(self.people)):
            if values[v]:
                out[self.tier_of[v]] += self.people[v]
        return out


def _upper_bounds(problem: Problem, prep: Prepared) -> dict[int, int]:
    hs = problem.households
    capacity = sum(t.count * (t.beds + t.cribs) for ts in prep.types for t in ts) + sum(
        p.beds for ps in prep.pools for p in ps.values()
    )
    placeable = [bool(vs) or i in prep.unlisted_fit for i, vs in enumerate(prep.by_household)]
    return {
        t: min(
            capacity,
            sum(
                prep.profiles[i].size for i, h in enumerate(hs) if h.priority == t and placeable[i]
            ),
        )
        for t in PRIORITIES
    }


def build_objectives(problem: Problem, prep: Prepared) -> Objectives:
    hs = problem.households
    c = prep.cands
    n = len(c)
    people = [prep.profiles[c.h[v]].size for v in range(n)]
    tier_of = [hs[c.h[v]].priority for v in range(n)]
    ub = _upper_bounds(problem, prep)
    waits = wait_minutes(problem)
    # Language weighs more than any possible waste: language first, then wasted beds.
    lang_w = 1 + sum(max((c.wasted[v] for v in vs), default=0) for vs in prep.by_household)
    return Objectives(
        people=people,
        tier_of=tier_of,
        ub=ub,
        weights=tier_weights(ub),
        tier_coeffs={
            t: [people[v] if tier_of[v] == t else 0 for v in range(n)] for t in PRIORITIES
        },
        waits=waits,
        fairness=[waits[c.h[v]] for v in range(n)],
        km=[round(c.km[v] * KM_SCALE) for v in range(n)],
        fit=[lang_w * c.lang_miss[v] + c.wasted[v] for v in range(n)],
    )


__all__ = [
    "KM_SCALE",
    "MAX_WAIT_MIN",
    "Objectives",
    "build_objectives",
    "tier_weights",
    "wait_minutes",
]
