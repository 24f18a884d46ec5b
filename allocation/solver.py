"""The CP-SAT plan: rules 1–8 exactly, the four objective levels lexicographically.

See ``docs/engine.md`` for the model and its guarantees. In short:

* candidates: (household, shelter) pairs passing rules 4–7 (vectorised, ``rules``), times
  the *minimal* fitting combinations of the shelter's room types (rule 2) or one bed of the
  shelter's shared pool of the household's sex (rule 3). One Boolean per candidate.
* constraints: ≤ 1 candidate per household (rule 1); per room type, rooms used ≤ rooms
  free (rule 2: one household per private room); per shared pool, beds used ≤ free beds and
  wheelchair users ≤ wheelchair beds (rule 3); rule 8 as "≤ 1 of two conflicting
  shelters".
* stages: (1) people placed, priority tiers weighted so that one person of a tier outweighs
  everybody of the tiers below (or one stage per tier if weights would be too large);
  (2) fairness, (3) km, (4) fit, each with the previous levels fixed and hinted with the
  previous solution.

Thread-safe: no globals, one ``CpSolver`` per call, no signals.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from .fixedset import FixedSetInput, settle_fixed_set
from .fixedset import Row as FixedRow
from .lagrange import floor_bound, lagrangian_bound
from .lpbound import TierLP
from .models import (
    PRIORITIES,
    Assignment,
    Bound,
    Objective,
    Plan,
    Problem,
    StageRecord,
    Stats,
    Unplaced,
)
from .options import analyse
from .params import DEFAULT_PARAMS, SearchParams
from .rules import (
    EligiblePairs,
    Profile,
    RoomType,
    SharedPool,
    ShelterTable,
    apart_enough,
    bounded_minimal_combos,
    capacity_columns,
    combo_wasted,
    eligible_pairs,
    keep_apart_pairs,
    km_for_plan,
    profile,
    room_types,
    shared_pools,
    wasted_beds,
)

#: Fairness: waiting minutes are capped (a month) to keep coefficients small.
MAX_WAIT_MIN = 43_200
#: km in the model are integer decametres (0.01 km).
KM_SCALE = 100
#: Candidate "combo" of a one-person household needing a bed: any free private room with a
#: bed (which one is decided after solving: the smallest). Exact by Hall's theorem, see
#: ``_Prepared.bed_rooms``; it replaces one candidate per room type.
ANY_ROOM: tuple[int, ...] = (-1,)


@dataclass
class _Candidates:
    h: list[int] = field(default_factory=list)
    s: list[int] = field(default_factory=list)
    combo: list[tuple[int, ...]] = field(default_factory=list)  # () = a shared bed
    wasted: list[int] = field(default_factory=list)
    km: list[float] = field(default_factory=list)
    lang_miss: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.h)


@dataclass
class _Prepared:
    profiles: list[Profile]
    types: list[list[RoomType]]
    pools: list[dict[str, SharedPool]]
    cands: _Candidates
    by_household: list[list[int]]
    truncated: bool
    truncated_h: npt.NDArray[np.bool_]
    table: ShelterTable
    caps: dict[str, npt.NDArray[np.int64]]
    #: Per shelter: private rooms with at least one bed, and those also wheelchair.
    bed_rooms: list[int]
    bed_wc_rooms: list[int]
    #: Every (household, shelter) pair passing rules 4-7 and the fit test, pruned or not
    #: (computed on demand: 4.3M pairs at region size).
    all_pairs: Callable[[], EligiblePairs]
    #: (household, shelter) pairs whose room sets were bounded (``MAX_COMBO_STEPS``).
    combo_bounded_pairs: int = 0
    #: Households whose bounded enumeration found no room set at some shelter.
    unlisted_fit: frozenset[int] = frozenset()

    @property
    def restricted(self) -> bool:
        """The model leaves out some plans (pruned shelters or bounded room sets): its own
        optimum and LP bound nothing for the problem."""
        return self.truncated or self.combo_bounded_pairs > 0

    def bed_room_use(self, j: int, combo: tuple[int, ...]) -> tuple[int, int]:
        """(rooms with a bed, wheelchair rooms with a bed) a private combo takes at shelter j."""
        ts = self.types[j]
        n = sum(1 for t in combo if ts[t].beds > 0)
        return n, sum(1 for t in combo if ts[t].beds > 0 and ts[t].wheelchair)


def _prepare(problem: Problem, prm: SearchParams = DEFAULT_PARAMS) -> _Prepared:
    hs = problem.households
    n_h = len(hs)
    table = ShelterTable.from_problem(problem)
    profiles = [profile(h) for h in hs]
    crib_cap = max((p.under3 for p in profiles), default=0)
    types = [room_types(s.rooms, crib_cap) for s in problem.shelters]
    pools = [shared_pools(s.rooms) for s in problem.shelters]
    caps = capacity_columns(problem, types, pools)
    has_room = (caps["total"] > 0) | (caps["shared_F"] > 0) | (caps["shared_M"] > 0)

    # Necessary condition for some room set to fit (lossless pruning before modelling); it
    # depends on a household only through its size class, so one shelter mask per class.
    fit_classes: dict[tuple[int, int, bool, str], int] = {}
    fcls = np.array(
        [
            fit_classes.setdefault(
                (p.needs_bed, p.size, h.needs.wheelchair, p.single_adult_sex or ""),
                len(fit_classes),
            )
            for h, p in zip(hs, profiles, strict=True)
        ],
        dtype=np.int64,
    )
    fit_mask = np.zeros((max(1, len(fit_classes)), len(problem.shelters)), dtype=bool)
    for (nb, size, w, sex), k in fit_classes.items():
        beds = caps["wc_beds"] if w else caps["beds"]
        total = caps["wc_total"] if w else caps["total"]
        row = (nb <= beds) & (size <= total)
        if sex:
            row |= (caps[f"shared_{sex}_wc"] if w else caps[f"shared_{sex}"]) > 0
        fit_mask[k] = row

    def pair_filter(idx: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        return fit_mask[fcls[idx]]

    # All pairs when few enough; else only the nearest K shelters per household (the model
    # is then restricted: its bound is not reported as a level-1 bound).
    n_s = int(has_room.sum())
    nearest: int | None = None
    max_pairs = prm.max_candidates // 2
    if n_h * max(n_s, 1) > 4 * max_pairs:
        nearest = max(prm.min_nearest, min(n_s, max_pairs // max(n_h, 1)))
    pairs = eligible_pairs(
        problem, table, extra_mask=has_room, nearest=nearest, pair_filter=pair_filter
    )
    if nearest is None and len(pairs.household) > max_pairs and n_h:
        nearest = max(prm.min_nearest, max_pairs // n_h)
        pairs = eligible_pairs(
            problem, table, extra_mask=has_room, nearest=nearest, pair_filter=pair_filter
        )
    truncated = bool(pairs.truncated is not None and pairs.truncated.any())

    bed_rooms = [sum(t.count for t in ts if t.beds > 0) for ts in types]
    bed_wc_rooms = [sum(t.count for t in ts if t.beds > 0 and t.wheelchair) for ts in types]
    min_bed = [min((t.beds for t in ts if t.beds > 0), default=0) for ts in types]
    min_wc_bed = [
        min((t.beds for t in ts if t.beds > 0 and t.wheelchair), default=0) for ts in types
    ]
    cands = _Candidates()
    by_household: list[list[int]] = [[] for _ in range(n_h)]
    combo_cache: dict[tuple[object, ...], list[tuple[tuple[int, ...], int]]] = {}
    max_rooms = problem.settings.max_rooms_per_household
    sig_cache: dict[int, tuple[object, ...]] = {}
    bounded_keys: set[tuple[object, ...]] = set()
    bounded_pairs = 0
    unlisted_fit: set[int] = set()
    for i, j, km in zip(
        pairs.household.tolist(), pairs.shelter.tolist(), pairs.km.tolist(), strict=True
    ):
        h = hs[i]
        p = profiles[i]
        s = problem.shelters[j]
        miss = int(h.needs.language is not None and h.needs.language not in s.languages)
        ts = types[j]
        sig = sig_cache.get(j)
        if sig is None:
            sig = tuple((t.beds, t.cribs, t.wheelchair, t.count) for t in ts)
            sig_cache[j] = sig
        key = (p.needs_bed, p.size, p.under3, h.needs.wheelchair, sig)
        combos = combo_cache.get(key)
        if p.size == 1 and p.needs_bed == 1:
            usable = bed_wc_rooms[j] if h.needs.wheelchair else bed_rooms[j]
            smallest = min_wc_bed[j] if h.needs.wheelchair else min_bed[j]
            combos = [(ANY_ROOM, smallest - 1)] if usable else []
        elif combos is None:
            found, complete = bounded_minimal_combos(
                p, ts, max_rooms, h.needs.wheelchair, prm.max_combo_steps
            )
            ranked = sorted((combo_wasted(p, ts, c), len(c), c) for c in found)
            combos = [(c, w) for w, _, c in ranked[: prm.max_combos_per_pair]]
            if not complete or len(ranked) > prm.max_combos_per_pair:
                bounded_keys.add(key)
            combo_cache[key] = combos
        if key in bounded_keys:
            bounded_pairs += 1
            if not combos:
                unlisted_fit.add(i)  # may fit here: U_t must still count it
        if p.shared_ok:
            pool = pools[j].get(p.single_adult_sex or "")
            if pool is not None and (pool.wheelchair_beds if h.needs.wheelchair else pool.beds):
                by_household[i].append(len(cands))
                cands.h.append(i)
                cands.s.append(j)
                cands.combo.append(())
                cands.wasted.append(0)
                cands.km.append(km)
                cands.lang_miss.append(miss)
        for c, waste in combos:
            by_household[i].append(len(cands))
            cands.h.append(i)
            cands.s.append(j)
            cands.combo.append(c)
            cands.wasted.append(waste)
            cands.km.append(km)
            cands.lang_miss.append(miss)
    full_pairs: list[EligiblePairs] = [pairs] if not truncated else []

    def all_pairs() -> EligiblePairs:
        if not full_pairs:  # listed once, on demand
            full_pairs.append(
                eligible_pairs(problem, table, extra_mask=has_room, pair_filter=pair_filter)
            )
        return full_pairs[0]

    return _Prepared(
        profiles,
        types,
        pools,
        cands,
        by_household,
        truncated,
        pairs.truncated if pairs.truncated is not None else np.zeros(n_h, dtype=bool),
        table,
        caps,
        bed_rooms,
        bed_wc_rooms,
        all_pairs,
        bounded_pairs,
        frozenset(unlisted_fit),
    )


def _wait_minutes(problem: Problem) -> list[int]:
    """Fairness weight: minutes waited before the most recent request of the night."""
    if not problem.households:
        return []
    stamps = [h.waiting_since.timestamp() for h in problem.households]
    latest = max(stamps)
    return [min(MAX_WAIT_MIN, int((latest - t) // 60)) for t in stamps]


class _Ledger:
    """Free capacity left while building a plan by hand (greedy start, repair)."""

    def __init__(self, prep: _Prepared) -> None:
        self.prep = prep
        self.types = [[t.count for t in ts] for ts in prep.types]
        self.pool: list[dict[str, list[int]]] = [
            {sex: [pool.beds, pool.wheelchair_beds] for sex, pool in ps.items()}
            for ps in prep.pools
        ]
        # Rooms with a bed left after families, and one-person households waiting for one.
        self.bed_left = list(prep.bed_rooms)
        self.bed_wc_left = list(prep.bed_wc_rooms)
        self.any_n = [0] * len(prep.types)
        self.any_wc = [0] * len(prep.types)

    def _hall_ok(self, j: int) -> bool:
        return (
            self.any_wc[j] <= self.bed_wc_left[j]
            and self.any_n[j] + self.any_wc[j] <= self.bed_left[j]
        )

    def take(self, v: int, wheelchair: bool, sex: str) -> bool:
        """Reserve candidate v's capacity if it is still free; False (nothing changed) if not."""
        c = self.prep.cands
        j = c.s[v]
        combo = c.combo[v]
        if combo == ANY_ROOM:
            if wheelchair:
                self.any_wc[j] += 1
            else:
                self.any_n[j] += 1
            if self._hall_ok(j):
                return True
            if wheelchair:
                self.any_wc[j] -= 1
            else:
                self.any_n[j] -= 1
            return False
        if combo:
            need: dict[int, int] = {}
            for t in combo:
                need[t] = need.get(t, 0) + 1
            if any(self.types[j][t] < k for t, k in need.items()):
                return False
            nb, nw = self.prep.bed_room_use(j, combo)
            self.bed_left[j] -= nb
            self.bed_wc_left[j] -= nw
            if not self._hall_ok(j):
                self.bed_left[j] += nb
                self.bed_wc_left[j] += nw
                return False
            for t, k in need.items():
                self.types[j][t] -= k
            return True
        pool = self.pool[j][sex]
        if pool[0] < 1 or (wheelchair and pool[1] < 1):
            return False
        pool[0] -= 1
        if wheelchair:
            pool[1] -= 1
        return True


def _greedy(
    problem: Problem,
    prep: _Prepared,
    ka: dict[tuple[int, int], float],
    start: list[int] | None = None,
) -> list[int]:
    """A valid plan (chosen candidate per household, -1 if none), built greedily.

    Keeps the placements of ``start`` (a valid plan) and adds households: most urgent first,
    then larger, then longer waiting; each takes its nearest candidate that still has
    capacity and breaks no keep-apart pair. Used as CP-SAT's first hint and to top up a
    stage's plan if the time ran out.
    """
    hs = problem.households
    c = prep.cands
    ledger = _Ledger(prep)
    partners: dict[int, list[tuple[int, float]]] = {}
    for (a, b), km in ka.items():
        partners.setdefault(a, []).append((b, km))
        partners.setdefault(b, []).append((a, km))
    chosen = [-1] * len(hs)
    shelter_of = [-1] * len(hs)
    if start is not None:
        # Families before one-person households so that room accounting follows Hall's order.
        for i in sorted(
            range(len(hs)), key=lambda i: start[i] >= 0 and c.combo[start[i]] == ANY_ROOM
        ):
            v = start[i]
            if v >= 0:
                ok = ledger.take(v, hs[i].needs.wheelchair, prep.profiles[i].single_adult_sex or "")
                if not ok:  # pragma: no cover - start is a valid plan
                    raise AssertionError("invalid start plan")
                chosen[i] = v
                shelter_of[i] = c.s[v]
    order = sorted(
        range(len(hs)),
        key=lambda i: (-hs[i].priority, -prep.profiles[i].size, hs[i].waiting_since, i),
    )
    for i in order:
        if chosen[i] >= 0:
            continue
        opts = sorted(prep.by_household[i], key=lambda v: (c.km[v], c.wasted[v], v))
        for v in opts:
            j = c.s[v]
            ok = True
            for b, km in partners.get(i, []):
                sb = shelter_of[b]
                if sb < 0:
                    continue
                if not apart_enough(prep.table, np.array([j]), np.array([sb]), km)[0, 0]:
                    ok = False
                    break
            if not ok:
                continue
            if not ledger.take(v, hs[i].needs.wheelchair, prep.profiles[i].single_adult_sex or ""):
                continue
            chosen[i] = v
            shelter_of[i] = j
            break
    return chosen


class _StopAt(cp_model.CpSolverSolutionCallback):
    """Stop the search once a plan reaches a known upper bound (the LP's): it is optimal."""

    def __init__(self, bound: int) -> None:
        super().__init__()
        self.bound = bound

    def on_solution_callback(self) -> None:
        if self.objective_value >= self.bound:
            self.stop_search()


@dataclass
class _Budget:
    deterministic: bool
    deadline: float  # wall clock, perf_counter
    det_total: float
    #: Do not start a stage with less time than this (CP-SAT's presolve alone needs it).
    min_stage_s: float = 0.02
    #: Deterministic mode only: a stage was stopped (or skipped) by the wall clock, not by
    #: its work budget, so a replay on a less loaded machine may find another plan.
    cut_by_wall: bool = False
    _wall_cap: float = 0.0

    #: Wall time kept back from the level-1 stages for the final LP bounds of the tiers
    #: they leave open (GLOP measured at ~0.1 s per tier on 57k candidates).
    lp_reserve_s: float = 0.0

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


def _solution(solver: cp_model.CpSolver, n: int) -> list[int]:
    sol = solver.response_proto.solution
    return [int(v) for v in list(sol)[:n]]


@dataclass
class _Row:
    """One constraint ``Σ coeffs·x[vars] ≤ ub`` of the model (all rules are of this form)."""

    vars: list[int]
    coeffs: list[int]
    ub: int
    keep_apart: bool = False
    #: What the row counts: ("household",), ("type", shelter, type), ("hall", shelter),
    #: ("hall_wc", shelter), ("pool", shelter, sex), ("pool_wc", shelter, sex), ("keep_apart",).
    key: tuple[object, ...] = ()


def _rows(problem: Problem, prep: _Prepared, ka: dict[tuple[int, int], float]) -> list[_Row]:
    """Rules 1–3 and 8 on the prepared candidates, as rows shared by CP-SAT and the LP bound."""
    hs = problem.households
    c = prep.cands
    n = len(c)
    rows: list[_Row] = []
    for vs in prep.by_household:
        if len(vs) > 1:
            rows.append(_Row(list(vs), [1] * len(vs), 1, key=("household",)))
    # Capacity: rooms per (shelter, type), beds per (shelter, sex pool).
    type_use: dict[tuple[int, int], list[tuple[int, int]]] = {}
    pool_use: dict[tuple[int, str], list[int]] = {}
    pool_wc_use: dict[tuple[int, str], list[int]] = {}
    any_use: dict[int, list[int]] = {}
    any_wc_use: dict[int, list[int]] = {}
    fam_bed: dict[int, list[tuple[int, int, int]]] = {}
    for v in range(n):
        j = c.s[v]
        if c.combo[v] == ANY_ROOM:
            any_use.setdefault(j, []).append(v)
            if hs[c.h[v]].needs.wheelchair:
                any_wc_use.setdefault(j, []).append(v)
        elif c.combo[v]:
            nb, nw = prep.bed_room_use(j, c.combo[v])
            fam_bed.setdefault(j, []).append((v, nb, nw))
            counts: dict[int, int] = {}
            for t in c.combo[v]:
                counts[t] = counts.get(t, 0) + 1
            for t, k in counts.items():
                type_use.setdefault((j, t), []).append((v, k))
        else:
            sex = prep.profiles[c.h[v]].single_adult_sex or ""
            pool_use.setdefault((j, sex), []).append(v)
            if hs[c.h[v]].needs.wheelchair:
                pool_wc_use.setdefault((j, sex), []).append(v)
    for (j, t), uses in type_use.items():
        cap = prep.types[j][t].count
        if sum(k for _, k in uses) > cap:
            rows.append(_Row([v for v, _ in uses], [k for _, k in uses], cap, key=("type", j, t)))
    # One-person households in "any room with a bed": with families' rooms, Hall's condition
    # for two nested classes (wheelchair users need wheelchair rooms, others take any).
    for j, vs in any_use.items():
        fam = [(v, nb) for v, nb, _ in fam_bed.get(j, []) if nb]
        rows.append(
            _Row(
                [v for v, _ in fam] + vs,
                [nb for _, nb in fam] + [1] * len(vs),
                prep.bed_rooms[j],
                key=("hall", j),
            )
        )
    for j, vs in any_wc_use.items():
        fam = [(v, nw) for v, _, nw in fam_bed.get(j, []) if nw]
        rows.append(
            _Row(
                [v for v, _ in fam] + vs,
                [nw for _, nw in fam] + [1] * len(vs),
                prep.bed_wc_rooms[j],
                key=("hall_wc", j),
            )
        )
    for (j, sex), vs in pool_use.items():
        cap = prep.pools[j][sex].beds
        if len(vs) > cap:
            rows.append(_Row(vs, [1] * len(vs), cap, key=("pool", j, sex)))
    for (j, sex), vs in pool_wc_use.items():
        cap = prep.pools[j][sex].wheelchair_beds
        if len(vs) > cap:
            rows.append(_Row(vs, [1] * len(vs), cap, key=("pool_wc", j, sex)))
    # Rule 8: for each shelter a of one side, "at a" + "at any conflicting b" ≤ 1.
    by_hs: list[dict[int, list[int]]] = [{} for _ in hs]
    for v in range(n):
        by_hs[c.h[v]].setdefault(c.s[v], []).append(v)
    for (a, b), km in ka.items():
        sa, sb = list(by_hs[a]), list(by_hs[b])
        if not sa or not sb:
            continue
        ok = apart_enough(prep.table, np.array(sa), np.array(sb), km)
        for ia, ja in enumerate(sa):
            conflict = [jb for ib, jb in enumerate(sb) if not ok[ia, ib]]
            if conflict:
                terms = list(by_hs[a][ja])
                for jb in conflict:
                    terms += by_hs[b][jb]
                rows.append(_Row(terms, [1] * len(terms), 1, keep_apart=True, key=("keep_apart",)))
    return rows


def _lagrangian_bound(
    problem: Problem, prep: _Prepared, rows: list[_Row], lp: TierLP, pins: dict[int, int], t: int
) -> float:
    """``lagrange.lagrangian_bound`` for this model, with the duals of the LP just solved for
    tier t with ``pins`` (``lp.maximise_tier(t, pins)``)."""
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


def _build_model(n: int, rows: list[_Row]) -> tuple[cp_model.CpModel, list[cp_model.IntVar]]:
    """The CP-SAT model of the rows (no objective)."""
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{v}") for v in range(n)]
    for r in rows:
        if r.ub == 1 and all(k == 1 for k in r.coeffs):
            model.add_at_most_one(x[v] for v in r.vars)
        else:
            model.add(cp_model.LinearExpr.weighted_sum([x[v] for v in r.vars], r.coeffs) <= r.ub)
    return model, x


def solve(
    problem: Problem, *, num_workers: int | None = None, params: SearchParams | None = None
) -> Plan:
    """Plan the night for ``problem`` within ``problem.settings.time_limit_s`` (all included).

    Pure and thread-safe; CPU-bound (run it in a worker thread from async code).
    ``num_workers`` defaults to the machine's cores (at most 8); ``params``: the tuning
    constants (``allocation.params``; default ``DEFAULT_PARAMS``).
    """
    prm = params or DEFAULT_PARAMS
    t0 = time.perf_counter()
    st = problem.settings
    workers = num_workers or max(1, min(8, os.cpu_count() or 1))
    # Keep a slice of the budget for building the plan and explaining the unplaced.
    # (measured: ~0.3 ms per household on a loaded 2-core machine, plus CP-SAT overrunning
    # its limit a little on big models).
    margin = min(
        prm.plan_margin_max_share * st.time_limit_s,
        prm.plan_margin_base_s + prm.plan_margin_per_household_s * len(problem.households),
    )
    # Deterministic budget in CP-SAT work units (single worker): measured 1–1.8 wall seconds
    # per unit at département size on this 2-core machine, plus ~1.5 s of model and LP
    # building: 40 % of the limit ends well inside it; the wall cap is the safety net.
    budget = _Budget(
        st.deterministic, t0 + st.time_limit_s - margin, st.time_limit_s * prm.det_budget_share
    )

    prep = _prepare(problem, prm)
    budget.min_stage_s = 0.02 + len(prep.cands) / prm.presolve_rate
    hs = problem.households
    c = prep.cands
    n = len(c)
    ka = keep_apart_pairs(problem)

    rows = _rows(problem, prep, ka)
    model, x = _build_model(n, rows)

    # Objective terms.
    people = [prep.profiles[c.h[v]].size for v in range(n)]
    tier_of = [hs[c.h[v]].priority for v in range(n)]
    capacity = sum(t.count * (t.beds + t.cribs) for ts in prep.types for t in ts) + sum(
        p.beds for ps in prep.pools for p in ps.values()
    )
    placeable = [bool(vs) or i in prep.unlisted_fit for i, vs in enumerate(prep.by_household)]
    ub = {
        t: min(
            capacity,
            sum(
                prep.profiles[i].size for i, h in enumerate(hs) if h.priority == t and placeable[i]
            ),
        )
        for t in PRIORITIES
    }
    weights: dict[int, int] = {}
    acc = 0
    for t in sorted(PRIORITIES):
        weights[t] = acc + 1
        acc += weights[t] * ub[t]
    tier_expr = {
        t: cp_model.LinearExpr.weighted_sum(
            [x[v] for v in range(n) if tier_of[v] == t],
            [people[v] for v in range(n) if tier_of[v] == t],
        )
        for t in PRIORITIES
    }
    waits = _wait_minutes(problem)
    fair_coeffs = [waits[c.h[v]] for v in range(n)]
    km_coeffs = [round(c.km[v] * KM_SCALE) for v in range(n)]
    lang_w = 1 + sum(max((c.wasted[v] for v in vs), default=0) for vs in prep.by_household)
    fit_coeffs = [lang_w * c.lang_miss[v] + c.wasted[v] for v in range(n)]

    def to_values(chosen: list[int]) -> list[int]:
        values = [0] * n
        for v in chosen:
            if v >= 0:
                values[v] = 1
        return values

    def to_chosen(values: list[int]) -> list[int]:
        chosen = [-1] * len(hs)
        for v in range(n):
            if values[v]:
                chosen[c.h[v]] = v
        return chosen

    current = to_values(_greedy(problem, prep, ka))

    def hint(values: list[int]) -> None:
        model.clear_hints()  # type: ignore[no-untyped-call]
        for v in range(n):
            model.add_hint(x[v], values[v])

    solver = cp_model.CpSolver()
    seed = st.seed
    found = True  # the greedy plan is always valid
    level1_optimal = False
    bound_people: dict[int, int] = dict(ub)
    stages_run: list[StageRecord] = []

    def tier_values(values: list[int]) -> dict[int, int]:
        out = dict.fromkeys(PRIORITIES, 0)
        for v in range(n):
            if values[v]:
                out[tier_of[v]] += people[v]
        return out

    def note_stage(
        name: str, cp: cp_model.CpSolver, status: cp_model.CpSolverStatus, coeffs: list[int]
    ) -> None:
        """One ``stats.stages`` record: the plan's value on ``coeffs`` after the stage."""
        stages_run.append(
            StageRecord(
                name=name,
                status=cp.status_name(status).lower(),
                value=sum(coeffs[v] for v in range(n) if current[v]),
                wall_s=round(cp.wall_time, 3),
                allowed_s=round(cp.parameters.max_time_in_seconds, 3),
                at_s=round(time.perf_counter() - t0, 3),
            )
        )

    def run(
        coeffs: list[int],
        maximize: bool,
        share: float,
        det_share: float,
        name: str,
        below_tier: int | None = None,
    ) -> cp_model.CpSolverStatus | None:
        """Optimise Σ coeffs·x; keep CP-SAT's plan if it is no worse than `current` on it.

        ``below_tier``: candidates of lower tiers are fixed to 0 for this stage only. That
        leaves the stage's optimum unchanged (taking a lower-tier household out of a plan
        keeps it valid and changes no higher tier) and presolve drops them at once, so the
        tier-t stage searches only tiers ≥ t.
        """
        nonlocal current
        expr = cp_model.LinearExpr.weighted_sum(x, coeffs)
        domains = model.proto.variables
        dropped = [v for v in range(n) if tier_of[v] < below_tier] if below_tier is not None else []
        if not budget.params(solver, share, det_share, seed, workers):
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
        hint([0 if tier_of[v] < (below_tier or 0) else current[v] for v in range(n)])
        try:
            status = solver.solve(model)
        finally:
            for v in dropped:
                domains[x[v].index].domain[1] = 1
        budget.after(solver, status)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            new = _solution(solver, n)
            old_val = sum(coeffs[v] for v in range(n) if current[v])
            new_val = sum(coeffs[v] for v in range(n) if new[v])
            # CP-SAT may stop on a plan worse than its hint (e.g. deterministic budget).
            if (new_val >= old_val) if maximize else (new_val <= old_val):
                current = new
            # Top up with anyone who still fits (never worse on level 1).
            current = to_values(_greedy(problem, prep, ka, to_chosen(current)))
        note_stage(name, solver, status, coeffs)
        return status

    # Lower bounds that every later plan keeps (levels already optimised): (coeffs, ≥ value).
    floors: list[tuple[list[int], int]] = []

    def keep_at_least(coeffs: list[int], value: int) -> None:
        """Pin a finished level: Σ coeffs·x ≥ value, in the full model and every sub-model."""
        used = [v for v in range(n) if coeffs[v]]
        model.add(
            cp_model.LinearExpr.weighted_sum([x[v] for v in used], [coeffs[v] for v in used])
            >= value
        )
        floors.append((coeffs, value))

    tier_coeffs = {t: [people[v] if tier_of[v] == t else 0 for v in range(n)] for t in PRIORITIES}

    def sub_run(
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
        worker with the full linear relaxation if the sub-model is small (see below).
        ``min_tier``: households of lower tiers are left out (a tier-t stage; the greedy
        top-up puts them back, as in ``run``). True if the plan improved on this objective
        (or reached ``stop_at``).
        """
        nonlocal current
        planned = {v for v in range(n) if current[v]}
        idx = sorted(v for v in keep | planned if tier_of[v] >= min_tier)
        pos = {v: i for i, v in enumerate(idx)}
        sub = cp_model.CpModel()
        xs = [sub.new_bool_var(f"x{v}") for v in idx]

        def expr(cs: list[int]) -> cp_model.LinearExpr:
            used = [i for i, v in enumerate(idx) if cs[v]]
            return cp_model.LinearExpr.weighted_sum(
                [xs[i] for i in used], [cs[idx[i]] for i in used]
            )

        for r in rows:
            terms = [(pos[v], k) for v, k in zip(r.vars, r.coeffs, strict=True) if v in pos]
            if len(terms) > 1 or (terms and terms[0][1] > r.ub):
                sub.add(
                    cp_model.LinearExpr.weighted_sum(
                        [xs[i] for i, _ in terms], [k for _, k in terms]
                    )
                    <= r.ub
                )
        for cs, value in floors:
            sub.add(expr(cs) >= value)
        objective = expr(coeffs)
        if stop_at is not None:
            sub.add(objective <= stop_at)
        if maximize:
            sub.maximize(objective)
        else:
            sub.minimize(objective)
        for i, v in enumerate(idx):
            sub.add_hint(xs[i], current[v])
        sub_solver = cp_model.CpSolver()
        # A sub-model presolves in proportion to its size, like the full one.
        min_s = 0.02 + len(idx) / prm.presolve_rate
        if not budget.params(sub_solver, share, det_share, seed, workers, min_s):
            return False
        sub_solver.parameters.cp_model_probing_level = 0
        # Most of a sub-model's presolve work went to this rewrite (measured: 0.8 of 0.9
        # deterministic units on the fairness sub-model, before any search).
        sub_solver.parameters.find_big_linear_overlap = False
        if mip_like and len(idx) <= prm.mip_like_max:
            # One worker with CP-SAT's full linear relaxation (cuts, LP-guided search)
            # solves these sub-models like a MIP: measured at département size,
            # tier 1 on one LP vertex + the 5 nearest candidates proven optimal for the
            # sub-model in 1.5-2 s, where two default workers were still 10-25 % below
            # after 20 s. One worker is also reproducible (deterministic mode).
            sub_solver.parameters.num_workers = 1
            sub_solver.parameters.linearization_level = 2
        elif st.deterministic:
            # Bigger sub-models (region size): interleaved search is deterministic and,
            # unlike one sequential worker, runs LNS, which finds plans there.
            sub_solver.parameters.num_workers = max(2, workers)
            sub_solver.parameters.interleave_search = True
        status = sub_solver.solve(sub, _StopAt(stop_at) if stop_at is not None else None)
        budget.after(sub_solver, status)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            note_stage(name, sub_solver, status, coeffs)
            return False
        new = [0] * n
        for i, v in enumerate(idx):
            if sub_solver.boolean_value(xs[i]):
                new[v] = 1
        old_val = sum(coeffs[v] for v in range(n) if current[v])
        new_val = sum(coeffs[v] for v in range(n) if new[v])
        better = new_val > old_val if maximize else new_val < old_val
        if better or new_val == old_val:
            # Candidates left out of the sub-model: top up with anyone who still fits.
            current = to_values(_greedy(problem, prep, ka, to_chosen(new)))
        note_stage(name, sub_solver, status, coeffs)
        return better or (stop_at is not None and new_val >= stop_at)

    # LP relaxation on the full candidate set (never a pruned one): a valid bound per tier.
    lp: TierLP | None = None
    # On a pruned model the LP (of the kept candidates only) bounds nothing for the full
    # problem, but it still guides the search: its supports and its value, where the
    # search on the pruned model may stop (measured at region size: the engine placed 4 %
    # fewer people of tier 3 than this LP before it guided the search).
    lp_valid = not prep.restricted
    # A pruned model's LP still gives a valid bound through its duals priced over every
    # pair (``lagrange.py``), as long as listing the pairs stays cheap (region: 9M cells,
    # ~1 s; national: 250M, not attempted).
    cells = len(hs) * len(problem.shelters)
    # (Not when room sets were bounded: the kept pairs would be priced as if complete.)
    lagrange_ok = cells <= prm.lagrange_max_cells and not prep.combo_bounded_pairs
    if (
        n
        and n <= prm.lp_max_candidates
        # Measured ~80k candidates per second to build; keep it a small share of the budget.
        and n / prm.lp_build_rate < prm.lp_build_share * budget.left()
    ):
        lp = TierLP(
            n, [(r.vars, r.coeffs, r.ub) for r in rows if not r.keep_apart], people, tier_of
        )
        budget.lp_reserve_s = 2 * (0.02 + n / 600_000)
        if not lp_valid and lagrange_ok:
            # Listing every pair (measured ~1 s for 9M household×shelter cells) and one more
            # LP solve per open tier, for the Lagrangian bound.
            budget.lp_reserve_s += cells / 5_000_000 + 4 * (0.05 + n / 100_000)
    proven: dict[int, bool] = {}

    def lp_bound(t: int, got: dict[int, int]) -> int | None:
        """LP bound on tier t for any plan lexicographically ≥ ``got`` on the tiers above.

        Proven tiers above are pinned at their value (every such plan has exactly it); the
        highest unproven one at ≥ its value; the ones below it are left free (a plan better
        on that tier may place anything there).
        """
        if lp is None or not budget.lp_time_left():
            return None
        pins: dict[int, int] = {}
        for u in sorted(PRIORITIES, reverse=True):
            if u <= t:
                break
            pins[u] = got[u]
            if not proven.get(u, False):
                break
        if lp_valid:
            return lp_max(t, pins)
        if not lagrange_ok or lp.maximise_tier(t, pins, budget.deadline) is None:
            return None
        return floor_bound(_lagrangian_bound(problem, prep, rows, lp, pins, t))

    lp_memo: dict[tuple[int, tuple[tuple[int, int], ...]], int] = {}

    def lp_max(t: int, pins: dict[int, int]) -> int | None:
        """``lp.maximise_tier`` remembered: the same LP is often asked twice (tier stage,
        then the final bounds), and each solve costs up to ~0.5 s at département size."""
        assert lp is not None
        key = (t, tuple(sorted(pins.items())))
        if key not in lp_memo:
            b = lp.maximise_tier(t, pins, budget.deadline)
            if b is None:
                return None
            lp_memo[key] = b
        return lp_memo[key]

    # Candidates of the LP's optimal solutions met on the way (the later levels search them).
    lp_seen: set[int] = set()

    # Each household's candidates, nearest first (the sub-models' cheap neighbourhood).
    by_km = [sorted(vs, key=lambda v: c.km[v]) for vs in prep.by_household] if lp else []

    def nearest(k: int, min_tier: int = 0) -> set[int]:
        return {v for i, vs in enumerate(by_km) if hs[i].priority >= min_tier for v in vs[:k]}

    def reach_lp_bound(t: int, cap: int, last: bool) -> bool:
        """Search tier t on sub-models around optimal LP solutions; True once at ``cap``.

        The LP optimum is sparse and nearly integral: a model of its support (a few hundred
        of ~57k candidates at département size) often holds a plan placing ⌊LP⌋ people of
        tier t, which is then proven optimal for the full problem. First the vertex just
        solved (enough for the top tiers, measured), then with every household's nearest
        candidates (free: no LP to solve), then the union with a few more optimal vertices
        (0.5-0.8 s of GLOP each, so only when needed).
        """
        assert lp is not None
        support = set(lp.support())
        k_near = prm.tier_nearest
        near_t = nearest(k_near, t)
        # The nearest candidates help only a sub-model small enough to solve MIP-like
        # (measured at region size: ~20k candidates, 15 s for 1 more person of tier 3).
        near_ok = len(near_t | support) <= prm.mip_like_max
        # Deterministic mode: no extra vertices. GLOP's time is not counted in work units,
        # and whether a round fits could only be asked of the clock.
        rounds = 0 if st.deterministic else prm.lp_vertex_rounds
        vertices = 1
        gained = True  # whether the last step placed more people of tier t
        for step in range(2 + rounds):
            # An extra vertex costs GLOP 2-4 times the tier's own LP (measured: 0.5-0.8 s
            # at département size, ~5 s at region size): they get at most a share of the
            # time left, and are not started without the time to also search them.
            # Deterministic mode never asks the clock which path to take (only the wall
            # cap stops GLOP, and then says so).
            if step >= 2:
                if not st.deterministic and budget.left() < 0.5 + 3 * lp.last_solve_s:
                    break
                # More vertices after a round that gained nothing: the tier is probably at
                # its optimum below the LP bound (measured: 376 of 377 with 4 and with 7
                # vertices, 4 s the lower tiers needed more).
                if step >= 3 and not gained:
                    break
                support |= lp.optimal_supports(
                    t,
                    c.km,
                    prm.lp_extra_vertices,
                    seed + step - 1,
                    budget.deadline
                    if st.deterministic
                    else time.perf_counter() + prm.lp_vertices_share * budget.left(),
                    least_cost_first=step == 2,
                )
                vertices += prm.lp_extra_vertices
                if st.deterministic and lp.cut_short:
                    budget.cut_by_wall = True  # fewer vertices than a replay may get
            lp_seen.update(support)
            keep = set(support)
            name = f"people{t}-lp-{vertices}-vertices"
            if step >= 1 and near_ok:
                keep |= near_t
                name += f"+{k_near}-nearest"
            elif step == 1:
                continue  # too big a sub-model: straight to more vertices
            before = tier_values(current)[t]
            sub_run(
                keep,
                tier_coeffs[t],
                True,
                # The last tier leaves time to no other tier.
                prm.support_first_look_share
                if step == 0
                else prm.support_stage_share * (2 if last else 1),
                # Deterministic work budget (shares of 40 % of the limit, in CP-SAT units).
                prm.det_first_look if step == 0 else prm.det_nearest_step * (2 if last else 1),
                name,
                stop_at=cap,
                mip_like=True,
                min_tier=t,
            )
            after = tier_values(current)[t]
            gained = after > before
            if after >= cap:
                return True
        return False

    if n:
        top = sum(weights[t] * ub[t] for t in PRIORITIES)
        if top <= prm.max_tier_weight:
            level1 = [weights[tier_of[v]] * people[v] for v in range(n)]
            status: cp_model.CpSolverStatus | None = run(level1, True, 0.6, 0.55, "people")
            got = tier_values(current)
            if status == cp_model.OPTIMAL and not prep.restricted:
                proven = dict.fromkeys(PRIORITIES, True)
                bound_people = dict(got)
            elif status == cp_model.FEASIBLE and not prep.restricted:
                bound_people = _split_bound(int(solver.best_objective_bound), weights, ub, got)
            for t in PRIORITIES:
                keep_at_least(tier_coeffs[t], got[t])
        else:
            tiers = [t for t in PRIORITIES if ub[t] > 0]
            # The stages end early enough for the LP to bound (or certify) the tiers they
            # leave open: an honest, tight bound matters more than a stage's last second.
            budget.deadline -= budget.lp_reserve_s
            # Levels 2-4 (fairness, km, fit) matter to the people placed too: when the LP
            # guides level 1, its stages leave them 15 % of the time.
            later_reserve = prm.later_levels_share * st.time_limit_s if lp is not None else 0.0
            budget.deadline -= later_reserve
            for t in tiers:
                got = tier_values(current)
                above = all(proven.get(u, False) for u in PRIORITIES if u > t)
                # The stage's model pins every tier above at ≥ its value, like this LP.
                lp_t = (
                    lp_max(t, {u: got[u] for u in PRIORITIES if u > t})
                    if lp is not None and budget.lp_time_left()
                    else None
                )
                if lp_t is None and lp is not None and st.deterministic:
                    budget.cut_by_wall = True  # the plan now depends on the clock
                b = lp_t if lp_valid else None  # a bound on the problem itself
                cap = ub[t] if b is None else min(ub[t], b)
                # Where the search may stop: no plan of the (possibly pruned) model beats it.
                target = cap if lp_t is None else min(cap, lp_t)
                if got[t] >= cap:
                    # Every person of this tier who fits alone, or the LP bound: nothing to do.
                    status = cp_model.OPTIMAL
                    stages_run.append(
                        StageRecord(
                            name=f"people{t}",
                            status=f"at_{'upper' if b is None else 'lp'}_bound",
                            value=got[t],
                            wall_s=0.0,
                            at_s=round(time.perf_counter() - t0, 3),
                        )
                    )
                elif lp is not None and reach_lp_bound(t, target, t == tiers[-1]):
                    # At the LP bound: optimal for the model (for the problem if not pruned).
                    status = cp_model.OPTIMAL
                elif lp is not None and (st.deterministic or budget.left() < 0.5 * st.time_limit_s):
                    # The LP supports fell short and half the time is gone: the full model
                    # rarely does better in what is left (measured), the lower tiers and
                    # the later levels need that time more. (Deterministic mode never asks
                    # the clock here: the replay must take the same path.)
                    status = None
                else:
                    # A valid cut for the model: CP-SAT stops as soon as a plan reaches it.
                    model.add(tier_expr[t] <= target)
                    status = run(
                        tier_coeffs[t],
                        True,
                        # Most of what is left: a tier below an unproven one cannot be proven,
                        # and a stage stops early once it reaches the LP bound (measured on
                        # generated départements: tier 3 proven in 3.4-5.7 s with 0.85 where an
                        # even split left it open and the lower stages found nothing better).
                        prm.tier_stage_share,
                        0.55 / len(tiers),
                        f"people{t}",
                        below_tier=t,
                    )
                got_t = tier_values(current)[t]
                ok = (status == cp_model.OPTIMAL and not prep.restricted) or got_t >= cap
                proven[t] = above and ok
                if proven[t]:
                    bound_people[t] = got_t
                elif above:
                    if status == cp_model.FEASIBLE and not prep.restricted:
                        bound_people[t] = min(cap, int(solver.best_objective_bound))
                    else:
                        bound_people[t] = cap if b is not None else bound_people[t]
                keep_at_least(tier_coeffs[t], got_t)
            budget.deadline += budget.lp_reserve_s + later_reserve
        # Certify (or bound) with the LP what the stages left open: tiers below an unproven
        # one get an LP bound that is valid whatever the higher tiers end up being.
        got = tier_values(current)
        for t in sorted(PRIORITIES, reverse=True):
            above = all(proven.get(u, False) for u in PRIORITIES if u > t)
            if proven.get(t, False):
                continue
            b = lp_bound(t, got)
            if b is not None:
                bound_people[t] = min(bound_people[t], b)
            proven[t] = above and (got[t] >= bound_people[t])
            if proven[t]:
                bound_people[t] = got[t]
        level1_optimal = all(proven.get(t, False) for t in PRIORITIES)
        # Levels 2-4 never need a proof. Where the LP ran (département size), search them on
        # a sub-model: the plan, the LP solutions met above and each household's nearest
        # shelters; the full model's presolve alone would take most of what is left.
        near: set[int] = set()
        if lp is not None:
            # Fewer per household on big problems: the sub-model must stay small enough to
            # presolve in a fraction of the time left (region size: 3 per household).
            near = nearest(
                max(2, min(prm.later_levels_nearest, prm.later_levels_max // max(1, len(hs))))
            )
        keep = lp_seen | near

        def later(coeffs: list[int], maximize: bool, share: float, name: str) -> None:
            full = lp is None
            if lp is not None:
                # Deterministic mode: one MIP-like worker reached the same values as the
                # interleaved search in ~60 % of the wall time (measured at département
                # size); otherwise two default workers did better on fairness.
                sub_run(
                    keep,
                    coeffs,
                    maximize,
                    share,
                    prm.det_later_level,
                    f"{name}-sub",
                    mip_like=st.deterministic,
                )
                # With time to spare (small problems, long limits) the full model may still
                # improve on the sub-model's optimum; never in deterministic mode (the
                # choice would depend on the clock).
                full = not st.deterministic and budget.left() * share >= 3 * budget.min_stage_s
            if full:
                run(coeffs, maximize, share, 0.15, name)
            value = sum(coeffs[v] for v in range(n) if current[v])
            keep_at_least(
                coeffs if maximize else [-k for k in coeffs], value if maximize else -value
            )

        def settle(km_c: list[int], fit_c: list[int]) -> int | None:
            """Levels 3-4 on the placed set fixed by levels 1-2 (``fixedset``)."""
            nonlocal current
            chosen = to_chosen(current)
            placed = [i for i in range(len(hs)) if chosen[i] >= 0]
            data = FixedSetInput(
                placed=[prep.by_household[i] for i in placed],
                current=[chosen[i] for i in placed],
                rows=[FixedRow(r.vars, r.coeffs, r.ub) for r in rows if r.key != ("household",)],
                km=km_c,
                fit=fit_c,
            )
            rounder = cp_model.CpSolver()
            started = time.perf_counter()
            ok = budget.params(rounder, 1.0, prm.det_later_level, seed, workers, 0.02)
            rounder.parameters.cp_model_probing_level = 0
            res = settle_fixed_set(data, budget.deadline, rounder if ok else None)
            for i, v in zip(placed, res.chosen, strict=True):
                chosen[i] = v
            current = to_values(chosen)
            km_now = sum(km_c[v] for v in range(n) if current[v])
            stages_run.append(
                StageRecord(
                    name="km-fixed-set",
                    status=res.how,
                    value=km_now,
                    wall_s=round(time.perf_counter() - started, 3),
                    at_s=round(time.perf_counter() - t0, 3),
                )
            )
            return res.km_lower_bound

        if any(waits):
            later(fair_coeffs, True, prm.fairness_share, "fairness")
        km_bound = settle(km_coeffs, fit_coeffs)
    else:
        level1_optimal = True
        bound_people = dict.fromkeys(PRIORITIES, 0)
        lp = None
        km_bound = 0

    bounded: dict[str, int] = {}
    if prep.combo_bounded_pairs:
        bounded["room_sets_pairs"] = prep.combo_bounded_pairs
    if prep.truncated:
        bounded["shelters_per_household"] = 1  # see ``pruned``
    plan = _build_plan(problem, prep, current if found else [0] * n, t0)
    got = {int(k): v for k, v in plan.objective.people_placed_by_priority.items()}
    if level1_optimal:
        bound_people = got
    bound_people = {t: max(bound_people[t], got[t]) for t in PRIORITIES}
    plan.status = "optimal" if level1_optimal else "feasible"
    plan.bound = Bound(people_placed_by_priority={str(t): bound_people[t] for t in PRIORITIES})
    plan.stats = Stats(
        wall_s=round(time.perf_counter() - t0, 3),
        solver="cp-sat",
        candidates=n,
        pruned=prep.truncated,
        stages=stages_run,
        deterministic=st.deterministic,
        deterministic_cut_by_wall_clock=st.deterministic and budget.cut_by_wall,
        lp_bound=lp is not None and (lp_valid or lagrange_ok),
        km_lower_bound=None if km_bound is None else round(km_bound / KM_SCALE, 2),
        bounded=bounded,
    )
    return plan


def _split_bound(
    total: int, weights: dict[int, int], ub: dict[int, int], got: dict[int, int]
) -> dict[int, int]:
    """Per-tier upper bounds for a lexicographic optimum from a weighted-sum bound.

    The top tier's people ≤ total // w4. Below it, a tier's bound can use the rest of the
    weighted bound only while the tiers above are pinned (their bound equals what the plan
    achieved); otherwise the independent bound ``ub`` stays.
    """
    out: dict[int, int] = {}
    rest = total
    pinned = True
    for t in PRIORITIES:
        if pinned:
            b = min(ub[t], rest // weights[t])
            out[t] = b
            if b == got[t]:
                rest -= weights[t] * got[t]
            else:
                pinned = False
        else:
            out[t] = ub[t]
    return out


def _build_plan(problem: Problem, prep: _Prepared, values: list[int], t0: float) -> Plan:
    hs = problem.households
    c = prep.cands
    chosen: dict[int, int] = {c.h[v]: v for v in range(len(c)) if values[v]}
    next_room: dict[tuple[int, int], int] = {}
    # Shared beds: wheelchair users first into wheelchair rooms, then the rest.
    shared_left: dict[tuple[int, str], list[list[object]]] = {}
    assignments: list[Assignment] = []
    unplaced: list[Unplaced] = []
    tiers = dict.fromkeys(PRIORITIES, 0)
    total_km = 0.0
    wasted = 0
    # Families take their rooms first; one-person households then take the smallest rooms
    # left (wheelchair users first); shared beds go to wheelchair users first.
    order = sorted(
        chosen, key=lambda i: (c.combo[chosen[i]] == ANY_ROOM, not hs[i].needs.wheelchair, i)
    )
    rooms_of: dict[int, list[str]] = {}
    for i in order:
        v = chosen[i]
        j = c.s[v]
        if c.combo[v] == ANY_ROOM:
            ts = prep.types[j]
            wc = hs[i].needs.wheelchair
            t = min(
                (
                    k
                    for k, rt in enumerate(ts)
                    if rt.beds > 0
                    and (rt.wheelchair or not wc)
                    and next_room.get((j, k), 0) < rt.count
                ),
                key=lambda k: (ts[k].beds, ts[k].wheelchair, ts[k].cribs),
            )
            k = next_room.get((j, t), 0)
            rooms_of[i] = [ts[t].room_ids[k]]
            next_room[(j, t)] = k + 1
        elif c.combo[v]:
            ts = prep.types[j]
            ids: list[str] = []
            for t in c.combo[v]:
                k = next_room.get((j, t), 0)
                ids.append(ts[t].room_ids[k])
                next_room[(j, t)] = k + 1
            rooms_of[i] = ids
        else:
            sex = prep.profiles[i].single_adult_sex or ""
            key = (j, sex)
            if key not in shared_left:
                rs = sorted(prep.pools[j][sex].rooms, key=lambda r: r.wheelchair)
                shared_left[key] = [[r.id, r.beds, r.wheelchair] for r in rs]
            slots = shared_left[key]
            wc = hs[i].needs.wheelchair
            pick = next(s for s in slots if int(s[1]) > 0 and (s[2] or not wc))  # type: ignore[call-overload]
            pick[1] = int(pick[1]) - 1  # type: ignore[call-overload]
            rooms_of[i] = [str(pick[0])]
    table = prep.table
    rooms_by_id = {r.id: r for sh in problem.shelters for r in sh.rooms}
    partners: dict[int, list[int]] = {}
    for a, b in keep_apart_pairs(problem):
        partners.setdefault(a, []).append(b)
        partners.setdefault(b, []).append(a)
    for i, h in enumerate(hs):
        if i in chosen:
            v = chosen[i]
            km = km_for_plan(c.km[v])
            assignments.append(
                Assignment(
                    household=h.id, shelter=problem.shelters[c.s[v]].id, rooms=rooms_of[i], km=km
                )
            )
            tiers[h.priority] += prep.profiles[i].size
            total_km += c.km[v]
            wasted += wasted_beds(prep.profiles[i], [rooms_by_id[r] for r in rooms_of[i]])
        elif prep.by_household[i]:
            # It had candidates, so it fits somewhere alone: the beds went to others.
            vs = prep.by_household[i]
            n_sh = len({c.s[v] for v in vs})
            near = min(vs, key=lambda v: c.km[v])
            alone = (
                f"{'at least ' if prep.truncated_h[i] else ''}{n_sh} "
                f"shelter{'s' if n_sh > 1 else ''} could take this household alone "
                f"(nearest {problem.shelters[c.s[near]].id} at {km_for_plan(c.km[near]):.1f} km)"
            )
            unplaced.append(
                Unplaced(
                    household=h.id,
                    code="capacity_taken",
                    detail=_capacity_detail(problem, i, alone, chosen, partners),
                )
            )
        else:
            alone_fit = analyse(problem, h, table, max_options=1, caps=prep.caps)
            if alone_fit.code is not None:
                unplaced.append(
                    Unplaced(household=h.id, code=alone_fit.code, detail=alone_fit.detail)
                )
            else:  # fits only a shelter the pruning dropped
                unplaced.append(
                    Unplaced(
                        household=h.id,
                        code="capacity_taken",
                        detail=_capacity_detail(problem, i, alone_fit.detail, chosen, partners),
                    )
                )
    return Plan(
        status="feasible",
        assignments=assignments,
        unplaced=unplaced,
        objective=Objective(
            people_placed_by_priority={str(t): tiers[t] for t in PRIORITIES},
            total_km=round(total_km, 1),
            wasted_beds=wasted,
        ),
        bound=Bound(people_placed_by_priority={str(t): 0 for t in PRIORITIES}),
        stats=Stats(wall_s=round(time.perf_counter() - t0, 3), solver="cp-sat"),
    )


def _capacity_detail(
    problem: Problem, i: int, alone: str, chosen: dict[int, int], partners: dict[int, list[int]]
) -> str:
    h = problem.households[i]
    blocked = sorted(problem.households[b].id for b in partners.get(i, []) if b in chosen)
    why = (
        "their free rooms went to more urgent, larger or longer-waiting households"
        if h.priority < 4
        else "their free rooms went to other priority-4 households placing more people"
    )
    if blocked:
        why += f", or rule 8 (kept apart from placed household {', '.join(blocked)}) blocked it"
    return f"{alone}; {why}"


__all__ = ["solve"]
