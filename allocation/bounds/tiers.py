"""Level 1's bounds, tier by tier: what is proven, and the bound reported for each tier.

The LP relaxation (``lp.TierLP``) is built on the full candidate set when it fits in the
time (never a pruned one for a *bound*). On a restricted model (pruned shelters, bounded
room sets) the LP still guides the search (its supports, and its value as the point where
the search on the model may stop), and a valid bound for the problem comes from its duals
priced over every pair (``lagrange.py``), as long as listing the pairs stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import Objectives, Prepared, Row
from ..models import PRIORITIES, Problem
from ..params import SearchParams
from .lagrange import floor_bound, lagrangian_bound
from .lp import TierLP

if TYPE_CHECKING:  # the search imports the bounds, not the reverse
    from ..search.budget import Budget


def model_lagrangian_bound(
    problem: Problem, prep: Prepared, rows: list[Row], lp: TierLP, pins: dict[int, int], t: int
) -> float:
    """``lagrange.lagrangian_bound`` for this model, with the duals of the LP just solved
    for tier t with ``pins`` (``lp.maximise_tier(t, pins)``)."""
    return lagrangian_bound(
        problem,
        prep.profiles,
        prep.types,
        prep.pools,
        prep.bed_rooms,
        prep.bed_wc_rooms,
        prep.cands.h,
        prep.cands.s,
        [(r.key, r.vars, r.coeffs, r.ub) for r in rows if not r.keep_apart],
        lp.row_duals(),
        lp.pin_duals(),
        pins,
        t,
        prep.all_pairs(),
    )


class TierBounds:
    """The tier LP (if built), which tiers are proven, and each tier's reported bound."""

    def __init__(
        self,
        problem: Problem,
        prep: Prepared,
        rows: list[Row],
        obj: Objectives,
        budget: Budget,
        prm: SearchParams,
    ) -> None:
        self.problem = problem
        self.prep = prep
        self.rows = rows
        self.budget = budget
        n = len(prep.cands)
        #: The LP bounds the problem itself (the model is not a restriction).
        self.lp_valid = not prep.restricted
        # (Region: 9M household×shelter cells, ~1 s to list; national: 250M, not attempted.
        # Not when room sets were bounded: the kept pairs would be priced as if complete.)
        cells = len(problem.households) * len(problem.shelters)
        self.lagrange_ok = cells <= prm.lagrange_max_cells and not prep.combo_bounded_pairs
        self.lp: TierLP | None = None
        #: Wall time the level-1 stages leave for the final LP bounds of the open tiers.
        self.reserve_s = 0.0
        if (
            n
            and n <= prm.lp_max_candidates
            # Measured ~80k candidates per second to build; a small share of the budget.
            and n / prm.lp_build_rate < prm.lp_build_share * budget.left()
        ):
            self.lp = TierLP(
                n,
                [(r.vars, r.coeffs, r.ub) for r in rows if not r.keep_apart],
                obj.people,
                obj.tier_of,
            )
            self.reserve_s = 2 * (prm.lp_reserve_base_s + n / prm.lp_solve_rate)
            if not self.lp_valid and self.lagrange_ok:
                # Listing every pair and one more LP solve per open tier, for the
                # Lagrangian bound.
                self.reserve_s += cells / prm.pair_list_rate + 4 * (
                    prm.lagrange_solve_base_s + n / prm.lagrange_solve_rate
                )
        #: Tiers proven optimal (every lexicographically-as-good plan has the plan's value).
        self.proven: dict[int, bool] = {}
        #: The bound reported per tier (starts at U_t).
        self.people: dict[int, int] = dict(obj.ub)
        self._memo: dict[tuple[int, tuple[tuple[int, int], ...]], int] = {}

    @property
    def gives_bound(self) -> bool:
        """An LP-based bound (direct or Lagrangian) was available (``stats.lp_bound``)."""
        return self.lp is not None and (self.lp_valid or self.lagrange_ok)

    def above_proven(self, t: int) -> bool:
        return all(self.proven.get(u, False) for u in PRIORITIES if u > t)

    def lp_max(self, t: int, pins: dict[int, int]) -> int | None:
        """``lp.maximise_tier`` remembered: the same LP is often asked twice (tier stage,
        then the final bounds), and each solve costs up to ~0.5 s at département size."""
        assert self.lp is not None
        key = (t, tuple(sorted(pins.items())))
        if key not in self._memo:
            b = self.lp.maximise_tier(t, pins, self.budget.deadline)
            if b is None:
                return None
            self._memo[key] = b
        return self._memo[key]

    def final_bound(self, t: int, got: dict[int, int]) -> int | None:
        """LP bound on tier t for any plan lexicographically ≥ ``got`` on the tiers above.

        Proven tiers above are pinned at their value (every such plan has exactly it); the
        highest unproven one at ≥ its value; the ones below it are left free (a plan better
        on that tier may place anything there).
        """
        lp = self.lp
        if lp is None or not self.budget.lp_time_left():
            return None
        pins: dict[int, int] = {}
        for u in sorted(PRIORITIES, reverse=True):
            if u <= t:
                break
            pins[u] = got[u]
            if not self.proven.get(u, False):
                break
        if self.lp_valid:
            return self.lp_max(t, pins)
        if not self.lagrange_ok or lp.maximise_tier(t, pins, self.budget.deadline) is None:
            return None
        return floor_bound(self.lagrangian(pins, t))

    def lagrangian(self, pins: dict[int, int], t: int) -> float:
        assert self.lp is not None
        return model_lagrangian_bound(self.problem, self.prep, self.rows, self.lp, pins, t)

    def certify(self, got: dict[int, int]) -> bool:
        """After the level-1 stages: bound (or prove) with the LP the tiers they left open.

        Tiers below an unproven one get an LP bound valid whatever the higher tiers end up
        being. True if every tier is proven (level 1 optimal).
        """
        for t in sorted(PRIORITIES, reverse=True):
            above = self.above_proven(t)
            if self.proven.get(t, False):
                continue
            b = self.final_bound(t, got)
            if b is not None:
                self.people[t] = min(self.people[t], b)
            self.proven[t] = above and (got[t] >= self.people[t])
            if self.proven[t]:
                self.people[t] = got[t]
        return all(self.proven.get(t, False) for t in PRIORITIES)


__all__ = ["TierBounds", "model_lagrangian_bound"]
