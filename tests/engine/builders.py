"""Terse builders for hand-made engine problems (coordinates near Lille)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from allocation import DEFAULT_PARAMS, Problem
from allocation.bounds import TierLP
from allocation.model import Prepared, Row, build_objectives, build_rows, prepare
from allocation.rules import keep_apart_pairs

LAT0, LON0 = 50.0, 3.0
KM_PER_DEG_LAT = 111.195  # on the spec's sphere


def north(km: float) -> tuple[float, float]:
    """A point ``km`` north of the reference point."""
    return LAT0 + km / KM_PER_DEG_LAT, LON0


def room(
    rid: str,
    beds: int,
    cribs: int = 0,
    shared: bool = False,
    sex: str | None = None,
    wheelchair: bool = False,
) -> dict[str, Any]:
    r: dict[str, Any] = {"id": rid, "beds": beds, "cribs": cribs, "shared": shared}
    if sex is not None:
        r["sex"] = sex
    r["wheelchair"] = wheelchair
    return r


def shelter(sid: str, km: float = 0.0, rooms: list[dict[str, Any]] | None = None, **flags: Any):
    lat, lon = north(km)
    s: dict[str, Any] = {
        "id": sid,
        "lat": lat,
        "lon": lon,
        "women": True,
        "men": True,
        "children": True,
        "rooms": rooms if rooms is not None else [room(f"{sid}-R1", 4)],
    }
    s.update(flags)
    return s


def member(age: int, sex: str) -> dict[str, Any]:
    return {"age": age, "sex": sex}


WOMAN = [member(30, "F")]
MAN = [member(40, "M")]


def household(
    hid: str,
    members: list[dict[str, Any]] | None = None,
    priority: int = 2,
    km: float = 0.0,
    waiting_since: str = "2026-11-28T20:00:00+01:00",
    **extra: Any,
) -> dict[str, Any]:
    lat, lon = north(km)
    h: dict[str, Any] = {
        "id": hid,
        "priority": priority,
        "waiting_since": waiting_since,
        "origin": {"lat": lat, "lon": lon},
        "members": members if members is not None else WOMAN,
    }
    h.update(extra)
    return h


def problem(
    shelters: list[dict[str, Any]], households: list[dict[str, Any]], **settings: Any
) -> Problem:
    st = {"time_limit_s": 5, "seed": 0, "max_rooms_per_household": 2}
    st.update(settings)
    return Problem.model_validate({"settings": st, "shelters": shelters, "households": households})


def model_lp(
    prob: Problem, max_candidates: int = 10**9, min_nearest: int | None = None
) -> tuple[Prepared, list[Row], TierLP]:
    """The engine's prepared candidates, rows and tier LP for ``prob`` (``max_candidates``
    small: a pruned model)."""
    prm = replace(
        DEFAULT_PARAMS,
        max_candidates=max_candidates,
        min_nearest=DEFAULT_PARAMS.min_nearest if min_nearest is None else min_nearest,
    )
    prep = prepare(prob, prm)
    rows = build_rows(prob, prep, keep_apart_pairs(prob))
    obj = build_objectives(prob, prep)
    lp = TierLP(
        len(prep.cands),
        [(r.vars, r.coeffs, r.ub) for r in rows if not r.keep_apart],
        obj.people,
        obj.tier_of,
    )
    return prep, rows, lp
