"""Levels 2-4 once level 1 is settled: fairness, then km and fit on the placed set.

Level 2 (fairness) never needs a proof. Where the LP ran it is searched first on a
sub-model (the plan, every LP support met at level 1, each household's nearest
candidates), then on the full model if the time left is at least a few presolves (never in
deterministic mode: the choice would depend on the clock); without the LP, on the full
model. Levels 3-4 only choose each placed household's candidate (``fixedset.py``).
"""

from __future__ import annotations

import time

from ortools.sat.python import cp_model

from ..models import StageRecord
from .fixedset import FixedSetInput, settle_fixed_set
from .state import Search


def fairness_stage(search: Search, guided: bool, lp_seen: set[int]) -> None:
    """Level 2: maximise the minutes waited by the placed households, then pin it.

    ``guided``: the LP ran (département size and smaller), so a sub-model of ``lp_seen``
    and the nearest candidates is searched first.
    """
    s, prm, budget = search, search.prm, search.budget
    coeffs, share = s.obj.fairness, prm.fairness_share
    full = not guided
    if guided:
        # Fewer per household on big problems: the sub-model must stay small enough to
        # presolve in a fraction of the time left (region size: 3 per household).
        per_household = prm.later_levels_max // max(1, len(s.problem.households))
        near = s.nearest(max(2, min(prm.later_levels_nearest, per_household)))
        # Deterministic mode: one MIP-like worker reached the same values as the
        # interleaved search in ~60 % of the wall time (measured at département size);
        # otherwise two default workers did better on fairness.
        s.run_sub(
            lp_seen | near,
            coeffs,
            True,
            share,
            prm.det_later_level,
            "fairness-sub",
            mip_like=s.deterministic,
        )
        # With time to spare (small problems, long limits) the full model may still
        # improve on the sub-model's optimum.
        full = (
            not s.deterministic
            and budget.left() * share >= prm.later_full_presolves * budget.min_stage_s
        )
    if full:
        s.run_full(coeffs, True, share, prm.det_later_full, "fairness")
    s.keep_at_least(coeffs, s.value(coeffs))


def fixed_set_stage(search: Search) -> int | None:
    """Levels 3-4 on the placed set fixed by levels 1-2 (``fixedset``); the km lower bound
    of that set (decametres), None if its LP did not finish."""
    s = search
    chosen = s.to_chosen(s.current)
    placed = [i for i in range(len(s.problem.households)) if chosen[i] >= 0]
    keep = [r.key != ("household",) for r in s.rows]
    data = FixedSetInput(
        placed=[s.prep.by_household[i] for i in placed],
        current=[chosen[i] for i in placed],
        rows=[r for r, k in zip(s.rows, keep, strict=True) if k],
        km=s.obj.km,
        fit=s.obj.fit,
        columns=s.prm.fixed_set_columns(),
        matrix=s.matrix.select(keep),
    )
    rounder = cp_model.CpSolver()
    started = time.perf_counter()
    # The rounding model is small: only the presolve's fixed cost must be left.
    min_s = s.prm.presolve_s(0)
    ok = s.budget.params(rounder, 1.0, s.prm.det_fixed_set, s.seed, s.workers, min_s)
    rounder.parameters.cp_model_probing_level = 0
    # One worker with the full linear relaxation: an assignment with side rows is what a
    # MIP solves best (measured: the rounding proven optimal for its sub-model in 0.1-0.9 s
    # where two default workers were still above it after 10 s). Reproducible too.
    rounder.parameters.num_workers = 1
    rounder.parameters.linearization_level = 2
    # Deterministic mode: the stage's solves share what the search has left of the whole
    # work budget (levels 1-2 take at most ~80 % of it), so that the whole search spends a
    # bounded amount of work and its wall time stays inside the limit.
    pool = max(0.0, s.budget.det_total - s.work) if s.deterministic else None
    res = settle_fixed_set(
        data, s.budget.deadline, rounder if ok else None, pool, s.prm.det_fixed_set
    )
    s.work += res.work
    if s.deterministic and res.clock_cut:
        s.budget.cut_by_wall = True
    for i, v in zip(placed, res.chosen, strict=True):
        chosen[i] = v
    s.current = s.to_values(chosen)
    s.record(
        StageRecord(
            name="km-fixed-set",
            status=res.how,
            value=s.value(s.obj.km),
            wall_s=round(time.perf_counter() - started, 3),
            at_s=s.elapsed(),
            work=round(res.work, 3),
        )
    )
    return res.km_lower_bound


__all__ = ["fairness_stage", "fixed_set_stage"]
