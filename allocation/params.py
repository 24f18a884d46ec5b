"""The engine's tuning constants, in one place, each with what it is for.

None changes which plans are valid; they decide how the time is spent and how big the
model may grow. Measured values quoted are from the 2-core benchmark machine at
département size (150 shelters, 600 households, ~57k candidates); see docs/engine.md.
``solve(problem, params=...)`` takes another set (tests, benchmarks); the service uses
``DEFAULT_PARAMS``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class SearchParams:
    # --- model size --------------------------------------------------------------------
    #: Above this many candidates each household keeps only its nearest shelters (the model
    #: is then a restriction; env ABRI_MAX_CANDIDATES).
    max_candidates: int = 100_000
    #: Fewest shelters kept per household when pruning.
    min_nearest: int = 4
    #: Room sets of one household class at one shelter: partial sets tried at most, and best
    #: sets kept (fewest wasted beds, then fewest rooms). Generated nights never reach them.
    max_combo_steps: int = 2_000
    max_combos_per_pair: int = 64
    #: The LP is built on the full candidate set only up to this many candidates.
    lp_max_candidates: int = 400_000
    #: LP build speed used to decide whether it fits (candidates per second, measured).
    lp_build_rate: float = 80_000.0
    #: ... in at most this share of the time left.
    lp_build_share: float = 0.2
    #: Largest households × shelters priced for the Lagrangian bound of a pruned model.
    lagrange_max_cells: int = 20_000_000
    #: Wall time the level-1 stages keep for the final LP bounds: two tier solves of
    #: ``lp_reserve_base_s`` + candidates / ``lp_solve_rate`` (GLOP, ~0.1 s per tier at
    #: 57k candidates); on a pruned model also listing every pair (``pair_list_rate``
    #: household×shelter cells per second, ~1 s for 9M) and four more solves of
    #: ``lagrange_solve_base_s`` + candidates / ``lagrange_solve_rate``.
    lp_reserve_base_s: float = 0.02
    lp_solve_rate: float = 600_000.0
    pair_list_rate: float = 5_000_000.0
    lagrange_solve_base_s: float = 0.05
    lagrange_solve_rate: float = 100_000.0
    #: Tier weights above this switch level 1 to one stage per tier (big weights stall
    #: CP-SAT's LP: measured, no bound after 35 s at 600 households).
    max_tier_weight: int = 2**16

    # --- time --------------------------------------------------------------------------
    #: Wall seconds kept for building the plan and explanations: base + per household,
    #: at most this share of the limit.
    plan_margin_base_s: float = 0.05
    plan_margin_per_household_s: float = 0.0006
    plan_margin_max_share: float = 0.2
    #: CP-SAT presolve speed (candidates per second): no stage starts with less time than
    #: its presolve needs.
    presolve_rate: float = 40_000.0
    presolve_base_s: float = 0.02
    #: Deterministic mode: the work budget (CP-SAT deterministic units), from the problem
    #: alone (never the clock: a replay must get the same). The whole run should end
    #: within ``det_wall_share`` of the limit, the rest being the margin for a loaded
    #: machine: the wall time that is not CP-SAT's (model, tier LPs, sub-models, the km
    #: LP, plan) is estimated from the candidates and the rows' nonzeros (measured on the
    #: suite's département nights, quiet 2-core machine: 1.5-3.5 s at 40-70k candidates
    #: and 110-200k nonzeros, ~4.5 s for the 870k of the keep-apart night, plus 1-1.6 s in
    #: the km stage), CP-SAT's at ``wall_per_work_unit_s`` (measured 1.7-2.7 s per unit); the
    #: budget is then kept between ``det_budget_min_share`` and ``det_budget_share`` work
    #: units per second of the limit. The margin, 12 %, is thin: two runs of the same
    #: night with the same work differed by up to 30 % in wall time on the quiet machine,
    #: and 20 % cost tier-1 people and km (docs/engine.md).
    det_budget_share: float = 0.4
    det_budget_min_share: float = 0.03
    det_wall_share: float = 0.88
    setup_base_s: float = 1.5
    setup_per_candidate_s: float = 3.2e-5
    setup_per_nonzero_s: float = 3.5e-6
    wall_per_work_unit_s: float = 2.0

    # --- level 1 (people per tier) -----------------------------------------------------
    #: Small problems (tier weights ≤ ``max_tier_weight``): the one weighted stage's share
    #: of the time left, and its deterministic work share.
    weighted_stage_share: float = 0.6
    det_weighted_stage: float = 0.55
    #: Full-model tier stage: deterministic work share, split evenly between the tiers.
    det_tier_full_model: float = 0.55
    #: A tier whose LP-support search fell short goes on to the full model only while at
    #: least this share of the time limit is left (never in deterministic mode).
    tier_full_model_left_share: float = 0.5
    #: Extra LP vertices are not started with less than this many seconds plus this many
    #: times the tier's own LP solve left (GLOP takes 2-4 times it per vertex).
    lp_vertex_min_left_s: float = 0.5
    lp_vertex_solve_factor: float = 3.0
    #: Share of the time left for a full-model tier stage.
    tier_stage_share: float = 0.85
    #: Each tier's search gets a slot: this share of what level 1 has left (wall seconds,
    #: or work units in deterministic mode), the last tier all of it. A tier above
    #: outweighs every tier below, so it may take the larger part, but never all of it.
    tier_slot_share: float = 0.5
    #: Share of the slot for the first look at one LP vertex (it works at once or not at
    #: all); each later sub-model (vertex + nearest, extra vertices) may use all that is
    #: left of the slot, and one that ends early (proven for itself) leaves it to the next.
    support_first_look_share: float = 0.25
    #: Share of the time limit kept for levels 2-4 when the LP guides level 1.
    later_levels_share: float = 0.15
    #: Each household's nearest candidates added to a tier's LP-support sub-model.
    tier_nearest: int = 5
    #: ... and this many, once that sub-model proved its own optimum under the LP bound.
    tier_nearest_wide: int = 12
    #: Largest sub-model solved MIP-like (one worker, full linear relaxation).
    mip_like_max: int = 8_000
    #: Most of the time left that the extra LP vertices of one tier may take.
    lp_vertices_share: float = 0.3
    #: Extra optimal LP vertices per round, and rounds.
    lp_extra_vertices: int = 3
    lp_vertex_rounds: int = 2
    #: ... in deterministic mode: none. GLOP's time is not counted in work units, and a
    #: round of three vertices took 0.7-2.6 s of it on a quiet machine (tiers 2 and 1 at
    #: 57-72k candidates), enough for the wall clock to cut the runs after it (the replay
    #: then differs); measured on the suite, the rounds gained nothing the 5 nearest had not.
    lp_vertex_rounds_det: int = 0
    #: Extra vertices only while the plan is at least this many people under the tier's
    #: LP bound: one person short is mostly the LP's looseness (france-1's tiers 3 and 2 at
    #: their optimum, 1 under the LP: a round cost 0.6 and 3 s of GLOP for nothing).
    vertex_min_gap: int = 2
    #: Deterministic mode: the work units level 1 may spend in all, as a share of the
    #: work budget (``det_budget_share``); an extra LP-vertex round or a full-model tier
    #: stage is not started with less than ``det_vertex_min_work`` of it left in the tier's
    #: slot; the full-model tier stage only up to ``full_model_det_max`` candidates (small
    #: models: presolve is free and the full search proves what sub-models cannot).
    det_level1_share: float = 0.7
    det_vertex_min_work: float = 0.05
    full_model_det_max: int = 8_000
    det_later_level: float = 0.06

    # --- level 2 (fairness) ------------------------------------------------------------
    #: Share of the time left for the fairness stage (levels 3-4 are an LP afterwards).
    fairness_share: float = 0.5
    #: Fairness sub-model: each household's nearest candidates, and about this many in all.
    later_levels_nearest: int = 8
    later_levels_max: int = 20_000
    #: After the sub-model, the full model too if the time left times the stage's share is
    #: at least this many presolves (small problems, long limits); deterministic work share
    #: of that full-model stage (never run in deterministic mode with the LP).
    later_full_presolves: float = 3.0
    det_later_full: float = 0.15

    # --- levels 3-4 (km, fit on the fixed placed set) ------------------------------------
    #: Share of the time limit kept from levels 1-2 for this stage: it used to be skipped
    #: (km +185 % on france-1) when the earlier stages took the time.
    fixed_set_reserve_share: float = 0.15
    #: Exact windows of the candidates ranked by LP reduced cost, tried in turn (a window's
    #: optimum is proven for the whole set when no candidate left out can beat it).
    fixed_set_window: int = 800
    #: ... each next window this many times wider, at most this many windows.
    fixed_set_window_growth: float = 3.0
    fixed_set_windows: int = 3
    #: Deterministic mode: the stage's solves (each window, then fit) share what levels 1-2
    #: left of the work budget; each may take this share of what is left of it. The first
    #: window repairs the LP's rounding and needs most of it (measured on the suite's
    #: worst km nights, 0.35-0.75 units left: with half, idf-4 kept the plan's km, 2.8
    #: times the bound; with 0.75, 1.27 times).
    det_fixed_set: float = 0.75

    def fixed_set_columns(self) -> tuple[int, ...]:
        """The window sizes the fixed-set km stage tries in turn."""
        return tuple(
            round(self.fixed_set_window * self.fixed_set_window_growth**k)
            for k in range(self.fixed_set_windows)
        )

    def presolve_s(self, candidates: int) -> float:
        """Wall seconds CP-SAT's presolve needs for a model of ``candidates``: no stage
        starts with less."""
        return self.presolve_base_s + candidates / self.presolve_rate

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_share") or f.name.startswith("det_"):
                if not 0.0 < value <= 1.0:
                    raise ValueError(f"SearchParams.{f.name} must be in (0, 1], got {value}")
            elif value < 0 or (value == 0 and not f.name.startswith("lp_vertex_rounds")):
                raise ValueError(f"SearchParams.{f.name} must be positive, got {value}")


DEFAULT_PARAMS = SearchParams(
    max_candidates=int(os.environ.get("ABRI_MAX_CANDIDATES", "100000")),
)
