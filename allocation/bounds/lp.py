"""Upper bounds on level 1 from the LP relaxation of the model (GLOP).

A relaxation of a maximisation bounds it from above: the 0/1 candidates become ``0 ≤ y ≤ 1``
and rule 8 (keep apart) may be dropped. Built on *all* candidates (never the pruned set), the
floored LP value bounds what any valid plan places, so a plan reaching it is proven optimal
for that tier even when CP-SAT ran on a restricted model or stopped early.

The LP is solved once per tier, most urgent first, with the tiers above constrained to at
least what the plan achieved (valid for the lexicographic optimum; see ``tier_bounds``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence

import numpy as np
from ortools.linear_solver import linear_solver_pb2, pywraplp  # type: ignore[attr-defined]  # SWIG

#: GLOP's objective is a float: tolerate this much before flooring (people are integers and
#: far below 1e5, so a relative 1e-9 error stays well under it).
FLOOR_TOL = 1e-6


class TierLP:
    """The LP relaxation of rules 1–3 (and optionally 8) with one objective per tier."""

    def __init__(
        self,
        n: int,
        rows: Sequence[tuple[Sequence[int], Sequence[int], int]],
        people: Sequence[int],
        tier: Sequence[int],
    ) -> None:
        self.solver = pywraplp.Solver.CreateSolver("GLOP")
        if self.solver is None:  # pragma: no cover - GLOP ships with OR-Tools
            raise RuntimeError("GLOP unavailable")
        s = self.solver
        # Each tier's solve starts from the last one's basis; GLOP's presolve would rebuild
        # the problem and lose it (measured at département size: the tier-1 LP 0.8-1.3 s
        # with it, 0.4-0.8 s without, half the simplex iterations).
        s.SetSolverSpecificParametersAsString("use_preprocessing: false")
        self.people = people
        self.tier = tier
        #: Each tier's candidates (its pin row's and its objective's terms).
        self._of_tier: dict[int, list[int]] = {}
        for v, t in enumerate(tier):
            self._of_tier.setdefault(t, []).append(v)
        tiers = sorted(self._of_tier)
        # Loaded as one proto: one SWIG call per coefficient cost ~0.5 s at 53k candidates.
        error = s.LoadModelFromProto(_model_proto(n, rows, people, self._of_tier, tiers))
        if error:  # pragma: no cover - the proto is built here, from valid rows
            raise RuntimeError(f"GLOP rejected the tier LP: {error}")
        self.y: list[pywraplp.Variable] = s.variables()
        constraints = s.constraints()
        self.rows: list[pywraplp.Constraint] = constraints[: len(rows)]
        # One "people of tier t ≥ lb" row per tier, inactive (lb = 0) until pinned.
        self.tier_rows: dict[int, pywraplp.Constraint] = dict(
            zip(tiers, constraints[len(rows) :], strict=True)
        )
        self._solved = False  # whether the last maximise_tier ended optimal
        #: (tier, LP optimum) of the last optimal ``maximise_tier``: the face to explore.
        self._face: tuple[int, float] | None = None
        #: The last ``optimal_supports`` stopped early (deadline): fewer vertices than asked.
        self.cut_short = False
        #: Wall seconds of the last ``maximise_tier`` solve (to budget the extra vertices).
        self.last_solve_s = 0.0

    def maximise_tier(
        self, t: int, at_least: dict[int, int], deadline: float | None = None
    ) -> int | None:
        """⌊max people of tier t⌋ s.t. tier u ≥ at_least[u]; None if GLOP did not finish.

        An infeasible LP (cannot happen with at_least taken from a valid plan) also gives None.
        """
        s = self.solver
        for u, ct in self.tier_rows.items():
            ct.SetLb(float(at_least.get(u, 0)))
        obj = s.Objective()
        obj.Clear()
        for v in self._of_tier.get(t, ()):
            obj.SetCoefficient(self.y[v], float(self.people[v]))
        obj.SetMaximization()
        if deadline is not None:
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            s.SetTimeLimit(max(1, int(left * 1000)))
        started = time.perf_counter()
        status = s.Solve()
        self.last_solve_s = time.perf_counter() - started
        if status != pywraplp.Solver.OPTIMAL:
            self._solved = False
            self._face = None
            return None
        self._solved = True
        self._face = (t, obj.Value())
        return math.floor(float(obj.Value()) + FLOOR_TOL)

    def optimal_supports(
        self,
        t: int,
        costs: Sequence[float],
        k: int,
        seed: int,
        deadline: float | None = None,
        *,
        least_cost_first: bool = True,
    ) -> set[int]:
        """Union of the supports of ``k`` more optimal LP solutions of tier t.

        Call after ``maximise_tier(t, ...)`` (other calls in between are fine): tier t is
        held at that LP optimum and the LP is re-solved with other objectives over the same
        optimal face, first the least ``costs`` (km) unless ``least_cost_first`` is False,
        then random weights (seeded: same problem, same supports). Different vertices of the
        face free different rooms; searching their union finds integral plans at ⌊LP⌋ far
        more often than one vertex alone (measured on generated départements: tier 2 reached
        its LP bound on 3 of 4 seeds with 4 vertices, 0 of 4 with one), at 0.3–0.8 s of GLOP
        per extra vertex at 57k candidates.
        """
        found: set[int] = set()
        self.cut_short = False
        if self._face is None or self._face[0] != t:
            return found
        s = self.solver
        obj = s.Objective()
        row = self.tier_rows[t]
        old_lb = row.lb()
        value = self._face[1]
        row.SetLb(value - 1e-6 * max(1.0, abs(value)))
        rng = random.Random(seed)
        try:
            for i in range(k):
                if deadline is not None:
                    left = deadline - time.perf_counter()
                    if left <= 0:
                        self.cut_short = True
                        break
                    s.SetTimeLimit(max(1, int(left * 1000)))
                obj.Clear()
                by_cost = least_cost_first and i == 0
                for v, y in enumerate(self.y):
                    if self.tier[v] >= t:
                        obj.SetCoefficient(y, -costs[v] if by_cost else rng.random())
                obj.SetMaximization()
                if s.Solve() != pywraplp.Solver.OPTIMAL:
                    self.cut_short = True  # out of time (the face is never empty)
                    break
                self._solved = True
                found.update(self.support())
        finally:
            row.SetLb(old_lb)
            self._solved = False  # the objective is no longer tier t's
        return found

    def row_duals(self) -> list[float]:
        """Dual values of the rows (in the order given) at the last optimum: ≥ 0 for these
        ``≤`` rows of a maximisation (up to GLOP's tolerances)."""
        return [ct.dual_value() for ct in self.rows]

    def pin_duals(self) -> dict[int, float]:
        """Dual values of the "tier u ≥ pin" rows at the last optimum (≤ 0 when binding)."""
        return {u: ct.dual_value() for u, ct in self.tier_rows.items()}

    def support(self, eps: float = 1e-6) -> list[int]:
        """Candidates with a positive value in the last optimal LP solution (empty if none).

        An LP vertex is sparse (a few hundred of ~57k candidates at département size) and
        nearly integral: the engine searches it first, see ``allocation.search.level1``.
        """
        if not self._solved:
            return []
        # One proto of the solution instead of one SWIG call per candidate.
        response = linear_solver_pb2.MPSolutionResponse()
        self.solver.FillSolutionResponseProto(response)
        values = np.asarray(response.variable_value)
        return [int(v) for v in np.flatnonzero(values > eps)]


def _model_proto(
    n: int,
    rows: Sequence[tuple[Sequence[int], Sequence[int], int]],
    people: Sequence[int],
    of_tier: dict[int, list[int]],
    tiers: Sequence[int],
) -> linear_solver_pb2.MPModelProto:
    """The LP as data: ``0 ≤ y ≤ 1``, the ``≤`` rows in the order given, then one
    ``people of tier t ≥ 0`` row per tier (pinned later), no objective yet."""
    model = linear_solver_pb2.MPModelProto()
    model.variable.extend([linear_solver_pb2.MPVariableProto(lower_bound=0.0, upper_bound=1.0)] * n)
    for vs, ks, ub in rows:
        ct = model.constraint.add(lower_bound=-math.inf, upper_bound=float(ub))
        ct.var_index.extend(vs)
        ct.coefficient.extend(map(float, ks))
    for t in tiers:
        ct = model.constraint.add(lower_bound=0.0, upper_bound=math.inf)
        ct.var_index.extend(of_tier[t])
        ct.coefficient.extend(float(people[v]) for v in of_tier[t])
    return model
