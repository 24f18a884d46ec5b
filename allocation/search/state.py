"""The search's state, shared by every stage: the model, the plan so far, the levels pinned.

``Search`` owns the CP-SAT model of the rows (built once, on first use; finished levels are
added to it as "≥ value" rows), the current plan as 0/1 values per candidate (always
valid: it starts as the greedy plan, and a stage's plan replaces it only if it is no worse
on the stage's objective), and the record of the stages run (``stats.stages``). A stage is
one of two searches: ``run_full`` (CP-SAT on every candidate) or ``run_sub`` (CP-SAT on a
sub-model of chosen candidates plus the plan: every plan it finds is valid for the full
problem).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ortools.sat.python import cp_model

from ..model import Objectives, Prepared, Row, RowMatrix
from ..models import CpSatStatus, Problem, StageRecord
from ..params import SearchParams
from .budget import Budget
from .greedy import greedy


class StopAt(cp_model.CpSolverSolutionCallback):
    """Stop the search once a plan reaches a known upper bound (the LP's): it is optimal."""

    def __init__(self, bound: int) -> None:
        super().__init__()
        self.bound = bound

    def on_solution_callback(self) -> None:
        if self.objective_value >= self.bound:
            self.stop_search()


def build_cp_model(n: int, rows: list[Row]) -> tuple[cp_model.CpModel, list[cp_model.IntVar]]:
    """The CP-SAT model of the rows (no objective)."""
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{v}") for v in range(n)]
    for r in rows:
        if r.ub == 1 and min(r.coeffs) == 1 == max(r.coeffs):  # (C-speed tests: 18k rows)
            model.add_at_most_one([x[v] for v in r.vars])
        else:
            model.add(cp_model.LinearExpr.weighted_sum([x[v] for v in r.vars], r.coeffs) <= r.ub)
    return model, x


def _solution(solver: cp_model.CpSolver, n: int) -> list[int]:
    sol = solver.response_proto.solution
    return [int(v) for v in list(sol)[:n]]


_CP_STATUS: dict[str, CpSatStatus] = {
    "OPTIMAL": "optimal",
    "FEASIBLE": "feasible",
    "INFEASIBLE": "infeasible",
    "MODEL_INVALID": "model_invalid",
    "UNKNOWN": "unknown",
}


def _restricted_sum(
    xs: list[cp_model.IntVar], idx: list[int], coeffs: list[int]
) -> cp_model.LinearExpr:
    """Σ coeffs·x over a sub-model whose variable k is candidate idx[k]."""
    used = [k for k, v in enumerate(idx) if coeffs[v]]
    return cp_model.LinearExpr.weighted_sum([xs[k] for k in used], [coeffs[idx[k]] for k in used])


def _better_or_equal(new: int, old: int, maximize: bool) -> bool:
    return new >= old if maximize else new <= old


class Search:
    """The model, the current plan and the stages run so far (see the module's docstring)."""

    def __init__(
        self,
        problem: Problem,
        prep: Prepared,
        rows: list[Row],
        obj: Objectives,
        ka: dict[tuple[int, int], float],
        budget: Budget,
        prm: SearchParams,
        workers: int,
        t0: float,
    ) -> None:
        self.problem = problem
        self.prep = prep
        self.rows = rows
        self.obj = obj
        self.ka = ka
        self.budget = budget
        self.prm = prm
        self.workers = workers
        self.t0 = t0
        self.deterministic = problem.settings.deterministic
        self.seed = problem.settings.seed
        self.n = len(prep.cands)
        # The full model is built on first use: most nights search only sub-models.
        self._full: tuple[cp_model.CpModel, list[cp_model.IntVar]] | None = None
        self.matrix = RowMatrix.of(rows, self.n)
        #: The plan: 0/1 per candidate. The greedy plan is always valid.
        self.current = self.to_values(greedy(problem, prep, ka))
        #: The full model's solver, kept across its stages (``best_objective_bound``).
        self.solver = cp_model.CpSolver()
        self.stages: list[StageRecord] = []
        #: CP-SAT work units (deterministic time) spent by every stage so far: what
        #: deterministic mode budgets (the same problem spends the same units on any machine).
        self.work = 0.0
        #: Finished levels, pinned in the full model and every sub-model: (coeffs, ≥ value).
        self.floors: list[tuple[list[int], int]] = []
        self._by_km: list[list[int]] | None = None

    @property
    def model(self) -> cp_model.CpModel:
        """The CP-SAT model of every candidate, with the finished levels pinned."""
        return self._full_model()[0]

    @property
    def x(self) -> list[cp_model.IntVar]:
        """The full model's variable per candidate."""
        return self._full_model()[1]

    def _full_model(self) -> tuple[cp_model.CpModel, list[cp_model.IntVar]]:
        if self._full is None:
            self._full = build_cp_model(self.n, self.rows)
            for coeffs, value in self.floors:
                self._pin_full(coeffs, value)
        return self._full

    def _pin_full(self, coeffs: list[int], value: int) -> None:
        """Σ coeffs·x ≥ value in the full model (built)."""
        assert self._full is not None
        model, x = self._full
        model.add(_restricted_sum(x, list(range(self.n)), coeffs) >= value)

    # --- the plan ----------------------------------------------------------------------

    def to_values(self, chosen: Sequence[int]) -> list[int]:
        values = [0] * self.n
        for v in chosen:
            if v >= 0:
                values[v] = 1
        return values

    def to_chosen(self, values: Sequence[int]) -> list[int]:
        """Per household: its candidate in ``values``, -1 if unplaced."""
        chosen = [-1] * len(self.problem.households)
        c = self.prep.cands
        for v in range(self.n):
            if values[v]:
                chosen[c.h[v]] = v
        return chosen

    def value(self, coeffs: Sequence[int], values: Sequence[int] | None = None) -> int:
        """Σ coeffs·values (default: the current plan)."""
        values = self.current if values is None else values
        return sum(coeffs[v] for v in range(self.n) if values[v])

    def tier_values(self) -> dict[int, int]:
        """People placed per tier by the current plan."""
        return self.obj.tier_values(self.current)

    def top_up(self, values: Sequence[int]) -> None:
        """The plan becomes ``values`` plus anyone who still fits (never worse on level 1)."""
        start = self.to_chosen(values)
        self.current = self.to_values(greedy(self.problem, self.prep, self.ka, start))

    def nearest(self, k: int, min_tier: int = 0) -> set[int]:
        """Each household's ``k`` nearest candidates (tier ≥ ``min_tier``): the sub-models'
        cheap neighbourhood."""
        if self._by_km is None:
            c = self.prep.cands
            self._by_km = [sorted(vs, key=lambda v: c.km[v]) for vs in self.prep.by_household]
        hs = self.problem.households
        return {v for i, vs in enumerate(self._by_km) if hs[i].priority >= min_tier for v in vs[:k]}

    def keep_at_least(self, coeffs: list[int], value: int) -> None:
        """Pin a finished level: Σ coeffs·x ≥ value, in the full model and every sub-model."""
        if self._full is not None:  # else added when the full model is built
            self._pin_full(coeffs, value)
        self.floors.append((coeffs, value))

    # --- the record ----------------------------------------------------------------------

    def elapsed(self) -> float:
        return round(time.perf_counter() - self.t0, 3)

    def record(self, stage: StageRecord) -> None:
        self.stages.append(stage)

    def note_stage(
        self, name: str, cp: cp_model.CpSolver, status: cp_model.CpSolverStatus, coeffs: list[int]
    ) -> None:
        """One ``stats.stages`` record: the plan's value on ``coeffs`` after the stage."""
        self.work += cp.deterministic_time
        self.record(
            StageRecord(
                name=name,
                status=_CP_STATUS[cp.status_name(status)],
                value=self.value(coeffs),
                wall_s=round(cp.wall_time, 3),
                allowed_s=round(cp.parameters.max_time_in_seconds, 3),
                at_s=self.elapsed(),
                work=round(cp.deterministic_time, 3),
            )
        )

    # --- the two searches ----------------------------------------------------------------

    def run_full(
        self,
        coeffs: list[int],
        maximize: bool,
        share: float,
        det_share: float,
        name: str,
        below_tier: int | None = None,
    ) -> cp_model.CpSolverStatus | None:
        """Optimise Σ coeffs·x on the full model; keep CP-SAT's plan if it is no worse than
        the current one on it. None: not started (no time).

        ``below_tier``: candidates of lower tiers are fixed to 0 for this stage only. That
        leaves the stage's optimum unchanged (taking a lower-tier household out of a plan
        keeps it valid and changes no higher tier) and presolve drops them at once, so the
        tier-t stage searches only tiers ≥ t.
        """
        model, x, solver, tier_of = self.model, self.x, self.solver, self.obj.tier_of
        n = self.n
        expr = cp_model.LinearExpr.weighted_sum(x, coeffs)
        domains = model.proto.variables
        dropped = [v for v in range(n) if tier_of[v] < below_tier] if below_tier is not None else []
        if not self.budget.params(solver, share, det_share, self.seed, self.workers):
            return None
        # Level-1 stages: probing is most of the presolve on these models and did not pay
        # (measured at département size: 336 reached at 3.6 s instead of 9.9 s).
        solver.parameters.cp_model_probing_level = 0 if name.startswith("people") else 2
        if maximize:
            model.maximize(expr)
        else:
            model.minimize(expr)
        for v in dropped:
            domains[x[v].index].domain[1] = 0  # [0, 1] -> [0, 0]
        model.clear_hints()  # type: ignore[no-untyped-call]
        low = below_tier or 0
        for v in range(n):
            model.add_hint(x[v], 0 if tier_of[v] < low else self.current[v])
        try:
            status = solver.solve(model)
        finally:
            for v in dropped:
                domains[x[v].index].domain[1] = 1
        self.budget.after(solver, status)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            new = _solution(solver, n)
            # CP-SAT may stop on a plan worse than its hint (e.g. deterministic budget).
            if _better_or_equal(self.value(coeffs, new), self.value(coeffs), maximize):
                self.current = new
            self.top_up(self.current)
        self.note_stage(name, solver, status, coeffs)
        return status

    def _sub_model(
        self,
        idx: list[int],
        coeffs: list[int],
        maximize: bool,
        stop_at: int | None,
    ) -> tuple[cp_model.CpModel, list[cp_model.IntVar]]:
        """The rows, the pinned levels and the objective restricted to candidates ``idx``."""
        sub = cp_model.CpModel()
        xs = [sub.new_bool_var(f"x{v}") for v in idx]
        ubs = self.matrix.ub
        for r, at, ks in self.matrix.restricted(idx):
            if len(at) > 1 or ks[0] > ubs[r]:
                sub.add(cp_model.LinearExpr.weighted_sum([xs[i] for i in at], ks) <= int(ubs[r]))
        for cs, value in self.floors:
            sub.add(_restricted_sum(xs, idx, cs) >= value)
        objective = _restricted_sum(xs, idx, coeffs)
        if stop_at is not None:
            sub.add(objective <= stop_at)
        if maximize:
            sub.maximize(objective)
        else:
            sub.minimize(objective)
        for i, v in enumerate(idx):
            sub.add_hint(xs[i], self.current[v])
        return sub, xs

    def _sub_solver(
        self, size: int, share: float, det_share: float, mip_like: bool
    ) -> cp_model.CpSolver | None:
        """A solver for a sub-model of ``size`` candidates; None if no time is left for it."""
        sub_solver = cp_model.CpSolver()
        # A sub-model presolves in proportion to its size, like the full one.
        min_s = self.prm.presolve_s(size)
        if not self.budget.params(sub_solver, share, det_share, self.seed, self.workers, min_s):
            return None
        sub_solver.parameters.cp_model_probing_level = 0
        # Most of a sub-model's presolve work went to this rewrite (measured: 0.8 of 0.9
        # deterministic units on the fairness sub-model, before any search).
        sub_solver.parameters.find_big_linear_overlap = False
        if mip_like and size <= self.prm.mip_like_max:
            # One worker with CP-SAT's full linear relaxation (cuts, LP-guided search)
            # solves these sub-models like a MIP: measured at département size,
            # tier 1 on one LP vertex + the 5 nearest candidates proven optimal for the
            # sub-model in 1.5-2 s, where two default workers were still 10-25 % below
            # after 20 s. One worker is also reproducible (deterministic mode).
            sub_solver.parameters.num_workers = 1
            sub_solver.parameters.linearization_level = 2
        elif self.deterministic:
            # Bigger sub-models (region size): interleaved search is deterministic and,
            # unlike one sequential worker, runs LNS, which finds plans there.
            sub_solver.parameters.num_workers = max(2, self.workers)
            sub_solver.parameters.interleave_search = True
        return sub_solver

    def run_sub(
        self,
        keep: set[int],
        coeffs: list[int],
        maximize: bool,
        share: float,
        det_share: float,
        name: str,
        stop_at: int | None = None,
        mip_like: bool = False,
        min_tier: int = 0,
    ) -> bool:
        """Optimise Σ coeffs·x over the candidates ``keep`` only (plus the current plan).

        A sub-model of a few thousand candidates presolves in milliseconds where the full
        one takes ~1.7 s at département size; every plan it finds is valid for the full
        problem (same rows, same pins). With ``stop_at`` (an upper bound for a maximised
        level, the LP's) the search stops as soon as a plan reaches it. ``mip_like``: one
        worker with the full linear relaxation if the sub-model is small.
        ``min_tier``: households of lower tiers are left out (a tier-t stage; the greedy
        top-up puts them back, as in ``run_full``). True if the plan improved on this
        objective (or reached ``stop_at``).
        """
        tier_of = self.obj.tier_of
        planned = {v for v in range(self.n) if self.current[v]}
        idx = sorted(v for v in keep | planned if tier_of[v] >= min_tier)
        sub, xs = self._sub_model(idx, coeffs, maximize, stop_at)
        sub_solver = self._sub_solver(len(idx), share, det_share, mip_like)
        if sub_solver is None:
            return False
        status = sub_solver.solve(sub, StopAt(stop_at) if stop_at is not None else None)
        self.budget.after(sub_solver, status)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.note_stage(name, sub_solver, status, coeffs)
            return False
        new = [0] * self.n
        for i, v in enumerate(idx):
            if sub_solver.boolean_value(xs[i]):
                new[v] = 1
        old_val, new_val = self.value(coeffs), self.value(coeffs, new)
        better = new_val > old_val if maximize else new_val < old_val
        if better or new_val == old_val:
            # Candidates left out of the sub-model: top up with anyone who still fits.
            self.top_up(new)
        self.note_stage(name, sub_solver, status, coeffs)
        return better or (stop_at is not None and new_val >= stop_at)


__all__ = ["Search", "StopAt", "build_cp_model"]
