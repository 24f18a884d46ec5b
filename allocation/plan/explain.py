"""Why a household is unplaced, judged for the household alone (the spec's codes).

A household with candidates fits somewhere alone: ``capacity_taken`` (the beds went to
others, or rule 8 blocked it). One without is analysed alone (``options.analyse``):
``no_eligible_shelter`` or ``no_room_fits``, or, if it fits only a shelter the pruning
dropped, ``capacity_taken`` again.
"""

from __future__ import annotations

from ..model import Prepared
from ..models import Problem, Unplaced
from ..options import analyse
from ..rules import km_for_plan


def keep_apart_partners(ka: dict[tuple[int, int], float]) -> dict[int, list[int]]:
    partners: dict[int, list[int]] = {}
    for a, b in ka:
        partners.setdefault(a, []).append(b)
        partners.setdefault(b, []).append(a)
    return partners


def capacity_detail(
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


def unplaced_reason(
    problem: Problem,
    prep: Prepared,
    i: int,
    chosen: dict[int, int],
    partners: dict[int, list[int]],
) -> Unplaced:
    """The code and detail of unplaced household i (``chosen``: the placed ones)."""
    h = problem.households[i]
    c = prep.cands
    if prep.by_household[i]:
        # It had candidates, so it fits somewhere alone: the beds went to others.
        vs = prep.by_household[i]
        n_sh = len({c.s[v] for v in vs})
        near = min(vs, key=lambda v: c.km[v])
        alone = (
            f"{'at least ' if prep.truncated_h[i] else ''}{n_sh} "
            f"shelter{'s' if n_sh > 1 else ''} could take this household alone "
            f"(nearest {problem.shelters[c.s[near]].id} at {km_for_plan(c.km[near]):.1f} km)"
        )
        detail = capacity_detail(problem, i, alone, chosen, partners)
        return Unplaced(household=h.id, code="capacity_taken", detail=detail)
    alone_fit = analyse(problem, h, prep.table, max_options=1, caps=prep.caps)
    if alone_fit.code is not None:
        return Unplaced(household=h.id, code=alone_fit.code, detail=alone_fit.detail)
    # Fits only a shelter the pruning dropped.
    detail = capacity_detail(problem, i, alone_fit.detail, chosen, partners)
    return Unplaced(household=h.id, code="capacity_taken", detail=detail)


__all__ = ["capacity_detail", "keep_apart_partners", "unplaced_reason"]
