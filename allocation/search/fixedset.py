"""Levels 3 and 4 once the placed households are fixed: a transportation-like problem.

Levels 1 and 2 (people per tier, minutes waited) depend only on *which* households are
placed. Once they are settled, the set is kept and levels 3 (km) and 4 (language, then
wasted beds) only choose each placed household's candidate: every placed household takes
exactly one of its candidates, under the same capacity and keep-apart rows. Its LP is
nearly integral (an assignment with side rows), so it is solved as an LP first (GLOP:
min km, then min fit with km held at its optimum; rule 8 left out of the LP). An integral
LP solution that keeps every row is optimal for both levels; otherwise CP-SAT, one worker
solving it like a MIP, chooses among the LP's support, each household's nearest
candidates and the current plan, stopped as soon as it reaches the LP bound. The LP value
is a lower bound on the km of *any* plan placing exactly these households (reported in
``stats.km_lower_bound``).
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

from ..model import Row

#: Below this an LP value counts as 0 (and above 1 minus it as 1).
INTEGRAL_TOL = 1e-6


@dataclass(frozen=True)
class FixedSetResult:
    """The plan's candidates after levels 3-4 on the fixed placed set."""

    chosen: list[int]  # one candidate per placed household
    km_lower_bound: int | None  # ⌈LP min km⌉ (decametres) for this placed set; None: no LP
    km_optimal: bool  # the plan's km equals that bound
    how: Literal["lp-integral", "lp-rounded", "kept"]  # "kept": no better plan in time


@dataclass(frozen=True)
class FixedSetInput:
    """The placed set and what the stage may choose among."""

    placed: Sequence[Sequence[int]]  # per placed household: its candidates
    current: Sequence[int]  # per placed household: its candidate in the plan now
    rows: Sequence[Row]  # capacity and keep-apart rows (household rows left out)
    km: Sequence[int]  # per candidate (full index), integer decametres
    fit: Sequence[int]  # per candidate, language weight · miss + wasted beds
    #: Candidates the rounding may use besides the LP's support and the plan (each placed
    #: household's nearest ones): the support alone measured 15-31 % above the LP on
    #: département nights, because its fractional households had no integral way out.
    nearby: Sequence[int] = ()


def _rows_hold(data: FixedSetInput, chosen: Sequence[int]) -> bool:
    """Whether one candidate per placed household keeps every row (rule 8 included)."""
    on = set(chosen)
    return all(
        sum(k for v, k in zip(r.vars, r.coeffs, strict=True) if v in on) <= r.ub for r in data.rows
    )


def _lp(data: FixedSetInput, deadline: float) -> tuple[dict[int, float], float] | None:
    """Min km, then min fit with km held at its optimum, over the LP relaxation.

    (LP values by candidate, min km), or None if GLOP did not finish by ``deadline``. Built
    from sparse arrays in one call (per-coefficient calls cost ~1 s at département size).
    """
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
            # Rule 8 left out: still a relaxation (a lower bound), and GLOP measured 11 s
            # instead of ~1 s on a night with 300 extra pairs. Its solution may break rule
            # 8, so an integral one is checked against every row before it is taken.
            continue
        terms = [(col[v], k) for v, k in zip(r.vars, r.coeffs, strict=True) if v in col]
        if sum(k for _, k in terms) <= r.ub:
            continue  # cannot bind
        r_idx += [len(lb)] * len(terms)
        c_idx += [c for c, _ in terms]
        coef += [float(k) for _, k in terms]
        lb.append(-np.inf)
        ub.append(float(r.ub))
    km = np.array([data.km[v] for v in cands], dtype=np.float64)
    fit = np.array([data.fit[v] for v in cands], dtype=np.float64)
    km_value: float | None = None
    values = np.zeros(len(cands))
    for objective in (km, fit):
        if km_value is not None:  # hold km at its optimum (plus float slack)
            r_idx += [len(lb)] * len(cands)
            c_idx += list(range(len(cands)))
            coef += km.tolist()
            lb.append(-np.inf)
            ub.append(km_value + 1e-6 * max(1.0, km_value))
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        matrix = sp.csr_matrix((coef, (r_idx, c_idx)), shape=(len(lb), len(cands)))
        model = mbh.ModelBuilderHelper()
        # (OR-Tools' stub spells the arrays' type wrongly: ndarray[float64, ...].)
        model.fill_model_from_sparse_data(
            np.zeros(len(cands)),  # type: ignore[arg-type]
            np.ones(len(cands)),  # type: ignore[arg-type]
            objective,  # type: ignore[arg-type]
            np.array(lb),  # type: ignore[arg-type]
            np.array(ub),  # type: ignore[arg-type]
            matrix,
        )
        glop = mbh.ModelSolverHelper("glop")
        glop.set_time_limit_in_seconds(left)
        glop.solve(model)
        if glop.status() != mbh.SolveStatus.OPTIMAL:
            return None
        values = np.asarray(glop.variable_values(), dtype=np.float64)
        if km_value is None:
            km_value = float(km @ values)
    assert km_value is not None
    return {v: float(values[k]) for k, v in enumerate(cands)}, km_value


def _round(
    data: FixedSetInput,
    keep: set[int],
    km_floor: int,
    solver: cp_model.CpSolver,
    deadline: float,
    start: Sequence[int] | None = None,
    objectives: tuple[str, ...] = ("km", "fit"),
) -> list[int] | None:
    """CP-SAT on the candidates ``keep``: min km (stop at ``km_floor``), then min fit.

    Both solves end by ``deadline``: the solver's own time limit was set once for the
    stage, and the second solve used to get it again (7 s for a stage given 2.8 s).
    """
    cap = solver.parameters.max_time_in_seconds
    idx = sorted(keep)
    pos = {v: i for i, v in enumerate(idx)}
    chosen: list[int] = list(data.current if start is None else start)
    for objective in objectives:
        model = cp_model.CpModel()
        x = [model.new_bool_var("") for _ in idx]
        for vs in data.placed:
            model.add_exactly_one(x[pos[v]] for v in vs if v in pos)
        for r in data.rows:
            terms = [(pos[v], k) for v, k in zip(r.vars, r.coeffs, strict=True) if v in pos]
            if sum(k for _, k in terms) > r.ub:
                model.add(sum(k * x[i] for i, k in terms) <= r.ub)
        km_expr = cp_model.LinearExpr.weighted_sum(x, [data.km[v] for v in idx])
        fit_expr = cp_model.LinearExpr.weighted_sum(x, [data.fit[v] for v in idx])
        if objective == "km":
            model.add(km_expr >= km_floor)  # the LP bound: stop there, it is optimal
            model.minimize(km_expr)
        else:
            model.add(km_expr <= sum(data.km[v] for v in chosen))
            model.minimize(fit_expr)
        for v in chosen:
            model.add_hint(x[pos[v]], 1)
        left = deadline - time.perf_counter()
        if left <= 0:
            return chosen if objective == "fit" else None
        solver.parameters.max_time_in_seconds = min(cap, left)
        status = solver.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return chosen if objective == "fit" else None
        chosen = [next(v for v in vs if v in pos and solver.value(x[pos[v]])) for vs in data.placed]
    return chosen


def settle_fixed_set(
    data: FixedSetInput,
    deadline: float,
    configure: cp_model.CpSolver | None = None,
) -> FixedSetResult:
    """Least km, then least fit, for exactly the placed households of ``data``.

    ``configure``: a CP-SAT solver whose parameters (time and work limits, seed, workers)
    the rounding step uses; None skips rounding (a fractional LP then keeps the plan).
    """
    current = list(data.current)
    got = _lp(data, deadline)
    if got is None:
        return FixedSetResult(current, None, False, "kept")
    values, km_lp = got
    bound = math.ceil(km_lp - 1e-6 * max(1.0, km_lp))
    km_now = sum(data.km[v] for v in current)
    integral = [next((v for v in vs if values[v] > 1 - INTEGRAL_TOL), -1) for vs in data.placed]
    if all(v >= 0 for v in integral) and _rows_hold(data, integral):
        km_new = sum(data.km[v] for v in integral)
        fit_new = sum(data.fit[v] for v in integral)
        fit_now = sum(data.fit[v] for v in current)
        if (km_new, fit_new) <= (km_now, fit_now):
            return FixedSetResult(integral, bound, km_new <= bound, "lp-integral")
    if configure is None:
        return FixedSetResult(current, bound, km_now <= bound, "kept")
    keep = {v for vs in data.placed for v in vs if values[v] > INTEGRAL_TOL} | set(current)
    # First the support alone (small: proven optimal for itself in 0.03-0.4 work units),
    # then, from that plan, with the nearest candidates too (better, but its search may
    # stop before proving anything: it then keeps the first round's plan).
    first = _round(data, keep, bound, configure, deadline, objectives=("km",))
    rounded = first
    if first is not None and sum(data.km[v] for v in first) > bound and data.nearby:
        rounded = _round(data, keep | set(data.nearby), bound, configure, deadline, first)
    if rounded is None and first is not None:
        rounded = _round(data, keep, bound, configure, deadline, first, ("fit",))
    if rounded is None or sum(data.km[v] for v in rounded) > km_now:
        return FixedSetResult(current, bound, km_now <= bound, "kept")
    km_new = sum(data.km[v] for v in rounded)
    return FixedSetResult(rounded, bound, km_new <= bound, "lp-rounded")
