"""Levels 3 and 4 once the placed households are fixed: a transportation-like problem.

Levels 1 and 2 (people per tier, minutes waited) depend only on *which* households are
placed. Once they are settled, the set is kept and levels 3 (km) and 4 (language, then
wasted beds) only choose each placed household's candidate: every placed household takes
exactly one of its candidates, under the same capacity and keep-apart rows.

1. GLOP solves the LP relaxation (min km; rule 8 left out, still a relaxation). Its value,
   rounded up, bounds the km of *any* plan placing exactly these households
   (``stats.km_lower_bound``). An integral LP solution that keeps every row is optimal for
   km; a second LP then settles fit with km held.
2. Otherwise the LP's reduced costs rank every candidate: a plan using a candidate of
   reduced cost d costs at least LP + d. CP-SAT (one worker, like a MIP) solves exactly the
   *window* of the ``columns`` lowest-ranked candidates (plus the LP's support and the
   plan), from the plan. If that window's optimum is at most LP + (the least reduced cost
   left out), no candidate outside could do better: the km is proven optimal for the whole
   placed set, and that km is the bound. Otherwise a wider window is tried, time allowing.
   Fit is then minimised on the last window with km held.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from ortools.linear_solver.python import model_builder_helper as mbh
from ortools.sat.python import cp_model

from ..model import Row, RowMatrix

#: Below this an LP value counts as 0 (and above 1 minus it as 1).
INTEGRAL_TOL = 1e-6


@dataclass(frozen=True)
class FixedSetResult:
    """The plan's candidates after levels 3-4 on the fixed placed set."""

    chosen: list[int]  # one candidate per placed household
    #: A lower bound (decametres) on the km of any plan placing this set: ⌈LP⌉, or the
    #: plan's own km when the window proved it optimal; None: the LP did not finish.
    km_lower_bound: int | None
    km_optimal: bool  # the plan's km equals that bound
    how: Literal["lp-integral", "window-optimal", "lp-rounded", "kept"]
    #: The wall clock, not a work limit, stopped a solve or left no time for one (in
    #: deterministic mode a replay on a less loaded machine may then differ).
    clock_cut: bool = False
    #: CP-SAT work units (deterministic time) the stage's solves spent.
    work: float = 0.0


@dataclass(frozen=True)
class FixedSetInput:
    """The placed set and what the stage may choose among."""

    placed: Sequence[Sequence[int]]  # per placed household: its candidates
    current: Sequence[int]  # per placed household: its candidate in the plan now
    rows: Sequence[Row]  # capacity and keep-apart rows (household rows left out)
    km: Sequence[int]  # per candidate (full index), integer decametres
    fit: Sequence[int]  # per candidate, language weight · miss + wasted beds
    #: Window sizes (candidates ranked by reduced cost) tried in turn by the exact search.
    columns: Sequence[int] = (800, 2_400, 7_200)
    #: ``rows`` as a matrix, if the caller has it (else built from ``rows``).
    matrix: RowMatrix | None = None


@dataclass
class _Lp:
    """The LP's columns (every candidate of a placed household) and its rows as arrays."""

    cands: list[int]
    matrix: sp.csr_matrix  # household rows (= 1), then capacity rows (≤ ub), no rule 8
    lb: np.ndarray
    ub: np.ndarray
    km: np.ndarray
    fit: np.ndarray

    @classmethod
    def build(cls, data: FixedSetInput) -> _Lp:
        """Built from sparse arrays in one call (per-coefficient calls cost ~1 s)."""
        cands = sorted({v for vs in data.placed for v in vs})
        col = {v: k for k, v in enumerate(cands)}
        r_idx: list[int] = []
        c_idx: list[int] = []
        coef: list[float] = []
        lb: list[float] = []
        ub: list[float] = []
        for vs in data.placed:  # each placed household takes exactly one candidate
            r_idx += [len(lb)] * len(vs)
            c_idx += [col[v] for v in vs]
            coef += [1.0] * len(vs)
            lb.append(1.0)
            ub.append(1.0)
        for r in data.rows:
            if r.keep_apart:
                # Rule 8 left out: still a relaxation (a lower bound), and GLOP measured
                # 11 s instead of ~1 s on a night with 300 extra pairs. Its solution may
                # break rule 8, so an integral one is checked against every row.
                continue
            terms = [(col[v], k) for v, k in zip(r.vars, r.coeffs, strict=True) if v in col]
            if sum(k for _, k in terms) <= r.ub:
                continue  # cannot bind
            r_idx += [len(lb)] * len(terms)
            c_idx += [c for c, _ in terms]
            coef += [float(k) for _, k in terms]
            lb.append(-np.inf)
            ub.append(float(r.ub))
        matrix = sp.csr_matrix((coef, (r_idx, c_idx)), shape=(len(lb), len(cands)))
        km = np.array([data.km[v] for v in cands], dtype=np.float64)
        fit = np.array([data.fit[v] for v in cands], dtype=np.float64)
        return cls(cands, matrix, np.array(lb), np.array(ub), km, fit)

    def solve(
        self, objective: np.ndarray, deadline: float, km_cap: float | None = None
    ) -> tuple[np.ndarray, np.ndarray, float] | None:
        """(values, reduced costs, objective value) by GLOP, None if not optimal in time."""
        matrix, lb, ub = self.matrix, self.lb, self.ub
        if km_cap is not None:  # hold km at its optimum (plus float slack)
            matrix = sp.vstack([matrix, sp.csr_matrix(self.km)], format="csr")
            lb = np.append(lb, -np.inf)
            ub = np.append(ub, km_cap + 1e-6 * max(1.0, km_cap))
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        n = len(self.cands)
        model = mbh.ModelBuilderHelper()
        # (OR-Tools' stub spells the arrays' type wrongly: ndarray[float64, ...].)
        model.fill_model_from_sparse_data(
            np.zeros(n),  # type: ignore[arg-type]
            np.ones(n),  # type: ignore[arg-type]
            objective,  # type: ignore[arg-type]
            lb,  # type: ignore[arg-type]
            ub,  # type: ignore[arg-type]
            matrix,
        )
        glop = mbh.ModelSolverHelper("glop")
        # Dual simplex: 2-3 times faster here than GLOP's default primal (0.45 s against
        # 1.3 s on nord-1's 44k candidates).
        glop.set_solver_specific_parameters("use_dual_simplex: true")
        glop.set_time_limit_in_seconds(left)
        glop.solve(model)
        if glop.status() != mbh.SolveStatus.OPTIMAL:
            return None
        values = np.asarray(glop.variable_values(), dtype=np.float64)
        reduced = np.asarray(glop.reduced_costs(), dtype=np.float64)
        return values, reduced, float(objective @ values)


def _rows_hold(data: FixedSetInput, chosen: Sequence[int]) -> bool:
    """Whether one candidate per placed household keeps every row (rule 8 included)."""
    on = set(chosen)
    return all(
        sum(k for v, k in zip(r.vars, r.coeffs, strict=True) if v in on) <= r.ub for r in data.rows
    )


class _Window:
    """CP-SAT on a window of candidates: min km (stop at a floor), then min fit."""

    def __init__(self, data: FixedSetInput, keep: set[int], matrix: RowMatrix) -> None:
        self.data = data
        self.idx = sorted(keep)
        pos = {v: i for i, v in enumerate(self.idx)}
        self.model = cp_model.CpModel()
        self.x = [self.model.new_bool_var("") for _ in self.idx]
        for vs in data.placed:
            self.model.add_exactly_one(self.x[pos[v]] for v in vs if v in pos)
        for r, at, ks in matrix.restricted(self.idx):
            ub = int(matrix.ub[r])
            if sum(ks) > ub:
                self.model.add(cp_model.LinearExpr.weighted_sum([self.x[i] for i in at], ks) <= ub)
        self.pos = pos

    def _expr(self, per_cand: Sequence[int]) -> cp_model.LinearExpr:
        return cp_model.LinearExpr.weighted_sum(self.x, [per_cand[v] for v in self.idx])

    def solve(
        self,
        objective: Literal["km", "fit"],
        start: Sequence[int],
        limit: float,
        solver: cp_model.CpSolver,
        clock: _Clock,
        repair: bool = False,
    ) -> tuple[list[int], bool] | None:
        """From ``start``, min km down to ``limit`` (a floor) or min fit with km ≤ ``limit``:
        (the plan, proven optimal for the window), None if nothing was found.

        ``repair``: ``start`` may break rows (the LP's rounding); CP-SAT repairs it first.
        """
        model = self.model.clone()
        km, fit = self._expr(self.data.km), self._expr(self.data.fit)
        if objective == "km":
            model.add(km >= int(limit))  # a bound: stop there, it is optimal
            model.minimize(km)
        else:
            model.add(km <= int(limit))
            model.minimize(fit)
        # A complete hint: a partial one (the plan's 1s only) was measured never to be
        # taken as a first solution within 0.6 work units.
        on = set(start)
        for v, i in self.pos.items():
            model.add_hint(self.x[i], 1 if v in on else 0)
        solver.parameters.repair_hint = repair
        try:
            status = solver.solve(model)
        finally:
            solver.parameters.repair_hint = False
        clock.note(solver, status)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        chosen = {v for v, i in self.pos.items() if solver.value(self.x[i])}
        plan = [next(v for v in vs if v in chosen) for vs in self.data.placed]
        return plan, status == cp_model.OPTIMAL


def _lp_rounded(data: FixedSetInput, lp: _Lp, values: np.ndarray) -> list[int]:
    """Per placed household, its candidate of largest LP value (the nearest on a tie): a
    start near the LP's km that may break a few capacity rows."""
    val = dict(zip(lp.cands, values.tolist(), strict=True))
    return [min(vs, key=lambda v: (-val[v], data.km[v], v)) for vs in data.placed]


def _km(data: FixedSetInput, chosen: Sequence[int]) -> int:
    return sum(data.km[v] for v in chosen)


def _fit(data: FixedSetInput, chosen: Sequence[int]) -> int:
    return sum(data.fit[v] for v in chosen)


def _integral(
    data: FixedSetInput, lp: _Lp, values: np.ndarray, deadline: float
) -> list[int] | None:
    """The LP's own plan if it is integral and keeps rule 8, fit settled by a second LP."""
    val = dict(zip(lp.cands, values.tolist(), strict=True))
    chosen = [next((v for v in vs if val[v] > 1 - INTEGRAL_TOL), -1) for vs in data.placed]
    if min(chosen) < 0 or not _rows_hold(data, chosen):
        return None
    got = lp.solve(lp.fit, deadline, km_cap=float(_km(data, chosen)))
    if got is not None:
        val = dict(zip(lp.cands, got[0].tolist(), strict=True))
        second = [next((v for v in vs if val[v] > 1 - INTEGRAL_TOL), -1) for vs in data.placed]
        if min(second) >= 0 and _rows_hold(data, second) and _km(data, second) <= _km(data, chosen):
            chosen = second
    return chosen


#: Fewer work units than this left in the stage's pool: no further solve (deterministic).
MIN_SOLVE_WORK = 0.02


class _Clock:
    """Each solve's limits: its wall limit, the solver's own capped by what is left before
    the deadline, and, with a work pool (deterministic mode), its work limit, the solver's
    own capped by what is left of the pool; whether the clock, not a work limit, decided;
    the work units spent."""

    def __init__(
        self,
        solver: cp_model.CpSolver,
        deadline: float,
        work_pool: float | None = None,
        work_share: float = 1.0,
    ) -> None:
        self.solver = solver
        self.deadline = deadline
        self.cap = solver.parameters.max_time_in_seconds
        self.work_cap = solver.parameters.max_deterministic_time
        self.work_pool = work_pool
        self.work_share = work_share  # of the pool left, for each solve
        self.work = 0.0
        self.cut = False
        self._limit = self.cap

    def start(self) -> bool:
        """Set the next solve's limits; False if no time (a cut) or no work is left."""
        if self.work_pool is not None:
            left_work = self.work_pool - self.work
            if left_work < MIN_SOLVE_WORK:
                return False  # the work pool decided: the same on any machine
            self.solver.parameters.max_deterministic_time = max(
                MIN_SOLVE_WORK, self.work_share * left_work
            )
        left = self.deadline - time.perf_counter()
        if left <= 0.01:
            self.cut = True
            return False
        self._limit = min(self.cap, left)
        self.solver.parameters.max_time_in_seconds = self._limit
        return True

    def note(self, solver: cp_model.CpSolver, status: cp_model.CpSolverStatus) -> None:
        self.work += solver.deterministic_time
        if status not in (cp_model.OPTIMAL, cp_model.INFEASIBLE) and (
            solver.wall_time >= 0.97 * self._limit
        ):
            self.cut = True

    def restore(self) -> None:
        self.solver.parameters.max_time_in_seconds = self.cap
        self.solver.parameters.max_deterministic_time = self.work_cap


def settle_fixed_set(
    data: FixedSetInput,
    deadline: float,
    configure: cp_model.CpSolver | None = None,
    work_pool: float | None = None,
    work_share: float = 1.0,
) -> FixedSetResult:
    """Least km, then least fit, for exactly the placed households of ``data``.

    ``configure``: a CP-SAT solver whose parameters (work limits, seed, workers) each of
    the search's solves uses, its time limit capped by ``deadline`` (and given back as it
    came); None: no search (a fractional LP then keeps the plan). ``work_pool``: the work
    units all the solves may spend together (deterministic mode), None: no such limit;
    ``work_share``: of what is left of it, the share each solve may take.
    """
    current = list(data.current)
    km_now = _km(data, current)
    if deadline - time.perf_counter() <= 0:  # the LP's build alone takes 0.1-0.7 s
        return FixedSetResult(current, None, False, "kept", clock_cut=True)
    lp = _Lp.build(data)
    got = lp.solve(lp.km, deadline)
    if got is None:
        return FixedSetResult(current, None, False, "kept", clock_cut=True)
    values, reduced, km_lp = got
    bound = math.ceil(km_lp - 1e-6 * max(1.0, km_lp))
    integral = _integral(data, lp, values, deadline)
    if integral is not None and (_km(data, integral), _fit(data, integral)) <= (
        km_now,
        _fit(data, current),
    ):
        return FixedSetResult(integral, bound, _km(data, integral) <= bound, "lp-integral")
    if configure is None:
        return FixedSetResult(current, bound, km_now <= bound, "kept")
    clock = _Clock(configure, deadline, work_pool, work_share)
    try:
        best, window, proven = _search_windows(data, lp, values, reduced, km_lp, clock)
        if window is not None and clock.start():
            fitted = window.solve("fit", best, _km(data, best), configure, clock)
            if fitted is not None and _km(data, fitted[0]) <= _km(data, best):
                best = fitted[0]
    finally:
        clock.restore()
    km_best, work = _km(data, best), clock.work
    if km_best > km_now or (km_best == km_now and _fit(data, best) > _fit(data, current)):
        return FixedSetResult(current, bound, km_now <= bound, "kept", clock.cut, work)
    if proven:
        return FixedSetResult(best, km_best, True, "window-optimal", clock.cut, work)
    return FixedSetResult(best, bound, km_best <= bound, "lp-rounded", clock.cut, work)


def _search_windows(
    data: FixedSetInput,
    lp: _Lp,
    values: np.ndarray,
    reduced: np.ndarray,
    km_lp: float,
    clock: _Clock,
) -> tuple[list[int], _Window | None, bool]:
    """Exact CP-SAT on windows of growing size: (best plan, its window, km proven optimal
    for the whole placed set)."""
    best = list(data.current)
    floor = math.ceil(km_lp - 1e-6 * max(1.0, km_lp))
    support = {lp.cands[k] for k in np.flatnonzero(values > INTEGRAL_TOL)}
    order = np.argsort(reduced, kind="stable")  # deterministic for equal reduced costs
    matrix = data.matrix or RowMatrix.of(data.rows, len(data.km))
    # The first window starts from the LP's rounding, repaired by CP-SAT: the plan from
    # levels 1-2 is often twice the least km, and CP-SAT needed ~0.5 work units to leave it
    # (measured on the suite: +137 % km left after 0.3 units from the plan, +9 % from the
    # rounding). The plan stays the fallback.
    start: list[int] | None = _lp_rounded(data, lp, values)
    last: _Window | None = None
    for size in data.columns:
        keep = support | set(best) | {lp.cands[k] for k in order[:size]}
        # A plan using a candidate outside the window costs ≥ LP + its reduced cost.
        outside = float(reduced[order[size]]) if size < len(order) else math.inf
        window = _Window(data, keep, matrix)
        if not clock.start():
            break
        repair = start is not None
        got = window.solve("km", start or best, floor, clock.solver, clock, repair)
        start = None
        if got is None:
            if repair:
                continue  # the rounding was not repaired in time: the next one from the plan
            break
        last = window
        if _km(data, got[0]) <= _km(data, best):
            best = got[0]
        # Proven for the window, and nothing outside it can beat it (integers: the float
        # slack covers GLOP's tolerances).
        if got[1] and _km(data, best) <= km_lp + outside - 1e-6 * max(1.0, km_lp):
            return best, last, True
        if _km(data, best) <= floor or size >= len(order):
            return best, last, _km(data, best) <= floor
    return best, last, False
