"""Per-tier bounds from the bound of a weighted single-stage search (small problems)."""

from __future__ import annotations

from ..models import PRIORITIES


def split_bound(
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


__all__ = ["split_bound"]
