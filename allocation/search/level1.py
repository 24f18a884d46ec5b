"""Level 1, people per tier: one weighted stage on small problems, else a stage per tier.

Per tier, most urgent first, with the tiers above pinned at what the plan reached:

1. the LP bound B_t of the tier (``TierBounds.lp_max``) and U_t; a plan already at
   min(U_t, B_t) is proven without a search;
2. the LP-support search (``_reach_lp_bound``): CP-SAT on sub-models around optimal LP
   solutions, stopped as soon as a plan reaches the bound (it is then optimal);
3. only if that fell short, more than half the time is left and never in deterministic
   mode: the full model with the valid cut ``people_t ≤ B_t``.

Afterwards ``TierBounds.certify`` bounds (or proves) with the LP what the stages left open.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ortools.sat.python import cp_model

from ..bounds import TierBounds, split_bound
from ..models import PRIORITIES, StageRecord
from .state import Search


class Level1:
    """The level-1 stages over one ``Search``, recording what they prove in ``bounds``."""

    def __init__(self, search: Search, bounds: TierBounds) -> None:
        self.search = search
        self.bounds = bounds
        #: Candidates of the LP's optimal solutions met on the way (the later levels'
        #: sub-model searches them too).
        self.lp_seen: set[int] = set()
        #: Deterministic mode: CP-SAT work units the level-1 stages may spend in all, and
        #: the search's work count when level 1 started.
        self.work_pool = search.prm.det_level1_share * search.budget.det_total
        self.work_start = search.work

    def run(self) -> bool:
        """Run level 1; True if it is proven optimal (every tier)."""
        s, obj = self.search, self.search.obj
        top = sum(obj.weights[t] * obj.ub[t] for t in PRIORITIES)
        if top <= s.prm.max_tier_weight:
            self._weighted()
        else:
            self._per_tier()
        return self.bounds.certify(s.tier_values())

    def _weighted(self) -> None:
        """One stage maximising Σ_t W_t·people_t: the lexicographic optimum (small W only:
        big weights stall CP-SAT's LP)."""
        s, obj, bounds = self.search, self.search.obj, self.bounds
        level1 = [obj.weights[obj.tier_of[v]] * obj.people[v] for v in range(s.n)]
        status = s.run_full(
            level1, True, s.prm.weighted_stage_share, s.prm.det_weighted_stage, "people"
        )
        got = s.tier_values()
        if status == cp_model.OPTIMAL and not s.prep.restricted:
            bounds.proven = dict.fromkeys(PRIORITIES, True)
            bounds.people = dict(got)
        elif status == cp_model.FEASIBLE and not s.prep.restricted:
            bounds.people = split_bound(
                int(s.solver.best_objective_bound), obj.weights, obj.ub, got
            )
        for t in PRIORITIES:
            s.keep_at_least(obj.tier_coeffs[t], got[t])

    def _per_tier(self) -> None:
        s, budget = self.search, self.search.budget
        tiers = [t for t in PRIORITIES if s.obj.ub[t] > 0]
        # The stages end early enough for the LP to bound (or certify) the tiers they
        # leave open: an honest, tight bound matters more than a stage's last second.
        budget.deadline -= budget.lp_reserve_s
        # Levels 2-4 (fairness, km, fit) matter to the people placed too: when the LP
        # guides level 1, its stages leave them a share of the time.
        # (Deterministic mode: the work budget ends the stages and fairness is bounded in
        # work too, so the wall reserve would only make the safety net cut level 1 sooner.)
        later_reserve = (
            s.prm.later_levels_share * s.problem.settings.time_limit_s
            if self.bounds.lp is not None and not s.deterministic
            else 0.0
        )
        budget.deadline -= later_reserve
        for t in tiers:
            self._tier(t, tiers)
        budget.deadline += budget.lp_reserve_s + later_reserve

    def _tier(self, t: int, tiers: list[int]) -> None:
        """One tier's stage, and what it proves or bounds."""
        s, bounds, budget, obj = self.search, self.bounds, self.search.budget, self.search.obj
        lp = bounds.lp
        got = s.tier_values()
        above = bounds.above_proven(t)
        # The stage's model pins every tier above at ≥ its value, like this LP.
        lp_t = (
            bounds.lp_max(t, {u: got[u] for u in PRIORITIES if u > t})
            if lp is not None and budget.lp_time_left()
            else None
        )
        if lp_t is None and lp is not None and s.deterministic:
            budget.cut_by_wall = True  # the plan now depends on the clock
        b = lp_t if bounds.lp_valid else None  # a bound on the problem itself
        cap = obj.ub[t] if b is None else min(obj.ub[t], b)
        # Where the search may stop: no plan of the (possibly pruned) model beats it.
        target = cap if lp_t is None else min(cap, lp_t)
        status: cp_model.CpSolverStatus | None
        slot = self._slot(t, tiers)
        if got[t] >= cap:
            # Every person of this tier who fits alone, or the LP bound: nothing to do.
            status = cp_model.OPTIMAL
            s.record(
                StageRecord(
                    name=f"people{t}",
                    status="at_upper_bound" if b is None else "at_lp_bound",
                    value=got[t],
                    wall_s=0.0,
                    at_s=s.elapsed(),
                )
            )
        elif lp is not None and self._reach_lp_bound(t, target, slot):
            # At the LP bound: optimal for the model (for the problem if not pruned).
            status = cp_model.OPTIMAL
        elif lp is not None and not self._full_model_pays(slot):
            status = None
        else:
            status = self._full_model_tier(t, target, len(tiers), slot if lp else None)
        self._settle_tier(t, status, cap, b, above)

    def _full_model_pays(self, slot: TierSlot) -> bool:
        """After the LP supports fell short: whether the full model is worth its presolve.

        Wall-clock mode: only while half the time is left (measured: it rarely does better
        in less, and the lower tiers and later levels need that time more). Deterministic
        mode asks the model's size and the tier's work left, never the clock (the replay
        must take the same path): small models presolve at once and their full search
        proves what the sub-models cannot (small-nord-2: the sub-model's optimum was one
        person short).
        """
        s, prm = self.search, self.search.prm
        if s.deterministic:
            return (
                s.n <= prm.full_model_det_max
                and slot.work_left(s.work) >= prm.det_vertex_min_work * s.budget.det_total
            )
        return s.budget.left() >= prm.tier_full_model_left_share * s.problem.settings.time_limit_s

    def _full_model_tier(
        self, t: int, target: int, n_tiers: int, slot: TierSlot | None
    ) -> cp_model.CpSolverStatus | None:
        """Tier t on every candidate, with the valid cut people_t ≤ target: CP-SAT stops as
        soon as a plan reaches it. ``slot``: the tier's work left bounds it in
        deterministic mode (without the LP, an even split of the full-model share)."""
        s, obj = self.search, self.search.obj
        used = [v for v in range(s.n) if obj.tier_of[v] == t]
        s.model.add(
            cp_model.LinearExpr.weighted_sum([s.x[v] for v in used], [obj.people[v] for v in used])
            <= target
        )
        return s.run_full(
            obj.tier_coeffs[t],
            True,
            # Most of what is left: a tier below an unproven one cannot be proven, and a
            # stage stops early once it reaches the LP bound (measured on generated
            # départements: tier 3 proven in 3.4-5.7 s with 0.85 where an even split left
            # it open and the lower stages found nothing better).
            s.prm.tier_stage_share,
            s.prm.det_tier_full_model / n_tiers
            if slot is None
            else min(1.0, max(1e-3, slot.work_left(s.work) / s.budget.det_total)),
            f"people{t}",
            below_tier=t,
        )

    def _settle_tier(
        self,
        t: int,
        status: cp_model.CpSolverStatus | None,
        cap: int,
        b: int | None,
        above: bool,
    ) -> None:
        """Whether tier t is proven, its reported bound, and its pin for the tiers below."""
        s, bounds = self.search, self.bounds
        got_t = s.tier_values()[t]
        ok = (status == cp_model.OPTIMAL and not s.prep.restricted) or got_t >= cap
        bounds.proven[t] = above and ok
        if bounds.proven[t]:
            bounds.people[t] = got_t
        elif above:
            if status == cp_model.FEASIBLE and not s.prep.restricted:
                bounds.people[t] = min(cap, int(s.solver.best_objective_bound))
            else:
                bounds.people[t] = cap if b is not None else bounds.people[t]
        s.keep_at_least(s.obj.tier_coeffs[t], got_t)

    def _more_vertices(
        self, t: int, cap: int, step: int, gained: bool, slot: TierSlot
    ) -> set[int] | None:
        """Step ≥ 2 of the LP-support search: three more optimal LP vertices, or None to
        stop (the plan only one person under ``cap``, the LP bound; no time or work left in
        the tier's slot; or the last round gained nothing)."""
        s, prm = self.search, self.search.prm
        lp = self.bounds.lp
        assert lp is not None
        # An extra vertex costs GLOP 2-4 times the tier's own LP (measured: 0.5-0.8 s at
        # département size, ~5 s at region size): not started without the time to also
        # search them. Deterministic mode asks its work units, never the clock (GLOP is
        # deterministic; its wall time is only capped by the deadline, which then says so).
        if cap - s.tier_values()[t] < prm.vertex_min_gap:
            return None
        if s.deterministic:
            if slot.work_left(s.work) < prm.det_vertex_min_work * s.budget.det_total:
                return None
        elif slot.wall_left() < prm.lp_vertex_min_left_s + prm.lp_vertex_solve_factor * (
            lp.last_solve_s
        ):
            return None
        # More vertices after a round that gained nothing: the tier is probably at its
        # optimum below the LP bound (measured: 376 of 377 with 4 and with 7 vertices, 4 s
        # the lower tiers needed more).
        if step >= 3 and not gained:
            return None
        found = lp.optimal_supports(
            t,
            s.prep.cands.km,
            prm.lp_extra_vertices,
            s.seed + step - 1,
            s.budget.deadline
            if s.deterministic
            else time.perf_counter() + prm.lp_vertices_share * slot.wall_left(),
            least_cost_first=step == 2,
        )
        if s.deterministic and lp.cut_short:
            s.budget.cut_by_wall = True  # fewer vertices than a replay may get
        return found

    def _slot(self, t: int, tiers: list[int]) -> TierSlot:
        """Tier t's slot: ``tier_slot_share`` of what level 1 has left (wall seconds, or
        work units in deterministic mode), the last tier all of it. Most tiers end early
        (at their LP bound) and leave the rest to the tiers below."""
        s, prm = self.search, self.search.prm
        frac = 1.0 if t == tiers[-1] else prm.tier_slot_share
        pool_left = max(0.0, self.work_pool - (s.work - self.work_start))
        return TierSlot(
            wall_end=time.perf_counter() + frac * max(0.0, s.budget.left()),
            work=frac * pool_left,
            work_start=s.work,
        )

    def _step(
        self, t: int, keep: set[int], name: str, cap: int, slot: TierSlot, frac: float
    ) -> None:
        """One sub-model of the LP-support search, given ``frac`` of what is left of the
        tier's slot (wall seconds, or work units in deterministic mode)."""
        s, budget = self.search, self.search.budget
        left = max(1e-3, budget.left())
        s.run_sub(
            keep,
            s.obj.tier_coeffs[t],
            True,
            min(1.0, max(1e-3, frac * slot.wall_left()) / left),
            min(1.0, max(1e-3, frac * slot.work_left(s.work) / budget.det_total)),
            name,
            stop_at=cap,
            mip_like=True,
            min_tier=t,
        )

    def _reach_lp_bound(self, t: int, cap: int, slot: TierSlot) -> bool:
        """Search tier t on sub-models around optimal LP solutions; True once at ``cap``.

        The LP optimum is sparse and nearly integral: a model of its support (a few hundred
        of ~57k candidates at département size) often holds a plan placing ⌊LP⌋ people of
        tier t, which is then proven optimal for the full problem. First the vertex just
        solved (enough for the top tiers, measured), then with every household's nearest
        candidates (free: no LP to solve), then the union with a few more optimal vertices
        (0.5-0.8 s of GLOP each, so only when needed). Each step gets a share of the tier's
        slot (``_slot``), so a tier whose sub-models cannot reach the bound never starves
        the tiers below it.
        """
        s, prm = self.search, self.search.prm
        assert self.bounds.lp is not None
        support = set(self.bounds.lp.support())
        near_t = s.nearest(prm.tier_nearest, t)
        # The nearest candidates help only a sub-model small enough to solve MIP-like
        # (measured at region size: ~20k candidates, 15 s for 1 more person of tier 3).
        near_ok = len(near_t | support) <= prm.mip_like_max
        near_k = prm.tier_nearest
        vertices = 1
        gained = True  # whether the last step placed more people of tier t
        rounds = prm.lp_vertex_rounds_det if s.deterministic else prm.lp_vertex_rounds
        for step in range(2 + rounds):
            if step >= 2:
                more = self._more_vertices(t, cap, step, gained, slot)
                if more is None:
                    break
                support |= more
                vertices += prm.lp_extra_vertices
            self.lp_seen.update(support)
            keep = set(support)
            name = f"people{t}-lp-{vertices}-vertices"
            if step >= 1 and near_ok:
                keep |= near_t
                name += f"+{near_k}-nearest"
            elif step == 1:
                continue  # too big a sub-model: straight to more vertices
            before = s.tier_values()[t]
            # The first look works at once or not at all; a later step may use all that is
            # left of the slot (one that ends early leaves it to the vertex rounds).
            frac = prm.support_first_look_share if step == 0 else 1.0
            self._step(t, keep, name, cap, slot, frac)
            if step == 1 and near_ok and s.tier_values()[t] < cap:
                wider = self._wider(t, support, cap, slot)
                if wider is not None:
                    near_t, near_k = wider
            after = s.tier_values()[t]
            gained = after > before
            if after >= cap:
                return True
        return False

    def _wider(
        self, t: int, support: set[int], cap: int, slot: TierSlot
    ) -> tuple[set[int], int] | None:
        """After the nearest candidates' sub-model proved its own optimum under the bound:
        the same with more nearest candidates (``tier_nearest_wide``), if it stays
        MIP-like and the slot has the work for it; the neighbourhood it used, or None.

        Such a sub-model proves quickly on the upper tiers, where one person short is
        often a household that must move beyond its 5 nearest (measured on the suite:
        nord-4's tier 3 at its optimum, 271, in 0.04 units with 12, 270 with 5 or 8; given
        all of the slot, hainaut-7's tier 2 spent 0.4 units on it for nothing and tier 1
        lost 2 people).
        """
        s, prm = self.search, self.search.prm
        if not s.stages or s.stages[-1].status != "optimal":
            return None  # the last sub-model used its work: a bigger one would not finish
        if s.deterministic:
            if slot.work_left(s.work) < prm.det_vertex_min_work * s.budget.det_total:
                return None
        elif slot.wall_left() < prm.lp_vertex_min_left_s:
            return None
        near = s.nearest(prm.tier_nearest_wide, t)
        if len(near | support) > prm.mip_like_max:
            return None
        name = f"people{t}-lp-1-vertices+{prm.tier_nearest_wide}-nearest"
        # A look, like the first one: it works at once or not at all, and what it does
        # not use stays with the tier's last sub-models and the tiers below.
        self._step(t, support | near, name, cap, slot, prm.support_first_look_share)
        return near, prm.tier_nearest_wide


@dataclass
class TierSlot:
    """What one tier's search may still spend: wall seconds up to ``wall_end`` (wall-clock
    mode; deterministic mode keeps the deadline as its only cap), and ``work`` CP-SAT work
    units from ``work_start`` (deterministic mode)."""

    wall_end: float
    work: float
    work_start: float

    def wall_left(self) -> float:
        return max(0.0, self.wall_end - time.perf_counter())

    def work_left(self, work_now: float) -> float:
        return max(0.0, self.work - (work_now - self.work_start))


__all__ = ["Level1", "TierSlot"]
