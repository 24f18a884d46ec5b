"""``household_options`` (``allocation.options``): where one household could go alone."""

from __future__ import annotations

from allocation import household_options

from .builders import household, member, problem, room, shelter


def test_options_best_first() -> None:
    prob = problem(
        [
            shelter("FAR", km=30, rooms=[room("FAR-R1", 2)]),
            shelter("NEAR", km=2, rooms=[room("NEAR-R1", 4), room("NEAR-R2", 2)]),
            shelter("NO", km=1, women=False),
        ],
        [household("H", members=[member(30, "F"), member(2, "M")])],
    )
    opts = household_options(prob, "H")
    assert [o.shelter for o in opts.options] == ["NEAR", "FAR"]
    assert opts.options[0].rooms == ["NEAR-R2"]
    assert opts.ruled_out["women"] == 1
