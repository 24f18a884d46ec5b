"""The search's time: the wall-clock deadline, the deterministic work budget, and who cut.

Every stage asks the budget for its limits (``configure``) and reports how it ended
(``after``): in deterministic mode, whether the wall clock, not the work budget, stopped
it (then a replay on a less loaded machine may give another plan).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ortools.sat.python import cp_model

from ..models import Problem
from ..params import SearchParams


def plan_margin(problem: Problem, prm: SearchParams) -> float:
    """Wall seconds kept for building the plan and explaining the unplaced (measured ~0.3 ms
    per household on a loaded 2-core machine, plus CP-SAT overrunning its limit a little on
    big models)."""
    return min(
        prm.plan_margin_max_share * problem.settings.time_limit_s,
        prm.plan_margin_base_s + prm.plan_margin_per_household_s * len(problem.households),
    )


@dataclass
class Budget:
    deterministic: bool
    deadline: float  # wall clock, perf_counter
    det_total: float  # deterministic mode: CP-SAT work units for the whole search
    #: Do not start a stage with less time than this (CP-SAT's presolve alone needs it).
    min_stage_s: float = 0.02
    #: Deterministic mode only: a stage was stopped (or skipped) by the wall clock, not by
    #: its work budget, so a replay on a less loaded machine may find another plan.
    cut_by_wall: bool = False
    _wall_cap: float = 0.0

    #: Wall time kept back from the level-1 stages for the final LP bounds of the tiers
    #: they leave open (GLOP measured at ~0.1 s per tier on 57k candidates).
    lp_reserve_s: float = 0.0

    @classmethod
    def for_problem(cls, problem: Problem, prm: SearchParams, t0: float) -> Budget:
        """The deadline (the limit minus the plan's margin) and, deterministic mode, the
        largest work budget (``size_work`` sets it once the model's size is known); the
        wall cap is the safety net."""
        st = problem.settings
        return cls(
            st.deterministic,
            t0 + st.time_limit_s - plan_margin(problem, prm),
            st.time_limit_s * prm.det_budget_share,
        )

    def size_work(
        self, problem: Problem, prm: SearchParams, candidates: int, nonzeros: int
    ) -> None:
        """Deterministic mode: set the work budget from the problem's limit and the model's
        size (see ``SearchParams.det_budget_share``), so that the work, not the wall clock,
        ends the search on any machine up to a load the margin covers."""
        limit = problem.settings.time_limit_s
        setup_s = (
            prm.setup_base_s
            + candidates * prm.setup_per_candidate_s
            + nonzeros * prm.setup_per_nonzero_s
        )
        fits = (prm.det_wall_share * limit - setup_s) / prm.wall_per_work_unit_s
        self.det_total = min(
            prm.det_budget_share * limit, max(prm.det_budget_min_share * limit, fits)
        )

    def left(self) -> float:
        """Wall seconds left before the deadline."""
        return self.deadline - time.perf_counter()

    def lp_time_left(self) -> bool:
        """Enough wall time left to try an LP bound: GLOP has its own time limit (the
        deadline) and gives no bound rather than a wrong one if it does not finish."""
        return self.left() > 0.05

    def params(
        self,
        solver: cp_model.CpSolver,
        share: float,
        det_share: float,
        seed: int,
        workers: int,
        min_s: float | None = None,
    ) -> bool:
        """Set the stage's limits; False if less than ``min_s`` (default: the full model's
        presolve time, ``min_stage_s``) is left."""
        min_stage_s = self.min_stage_s if min_s is None else min_s
        cps = solver.parameters
        cps.random_seed = seed
        cps.num_workers = workers
        cps.log_search_progress = False
        left = self.left()
        if self.deterministic:
            # Deterministic time does not depend on machine load, and one worker makes the
            # search itself reproducible (interleaved parallel search measured 4x slower).
            cps.num_workers = 1
            cps.max_deterministic_time = max(0.05, self.det_total * det_share)
            # The time limit is a hard wall-clock cap in every mode (an operator cannot wait):
            # the work budget is calibrated to end well inside it; this cap is the safety net.
            if left <= min_stage_s:
                self.cut_by_wall = True
                return False
            self._wall_cap = max(0.01, left)
            cps.max_time_in_seconds = self._wall_cap
            return True
        if left <= min_stage_s:
            return False
        cps.max_time_in_seconds = max(0.01, left * share)
        return True

    def after(self, solver: cp_model.CpSolver, status: cp_model.CpSolverStatus) -> None:
        """Deterministic mode: note whether the wall clock, not the work budget, stopped it."""
        if (
            self.deterministic
            and status not in (cp_model.OPTIMAL, cp_model.INFEASIBLE)
            and solver.wall_time >= 0.97 * self._wall_cap
        ):
            self.cut_by_wall = True


__all__ = ["Budget", "plan_margin"]
