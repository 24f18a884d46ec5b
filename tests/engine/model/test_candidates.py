"""Problem shapes that used to blow up the model: bounded, valid, and said so in stats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from allocation import DEFAULT_PARAMS, Problem, check, solve


def _shelter_night(
    rooms: list[dict[str, object]], families: list[list[int]], **settings: object
) -> Problem:
    """One shelter with ``rooms``; one household per list of member ages."""
    t0 = datetime(2026, 12, 1, 20, tzinfo=UTC)
    return Problem.model_validate(
        {
            "settings": {"time_limit_s": 3, **settings},
            "shelters": [
                {
                    "id": "S",
                    "lat": 50.6,
                    "lon": 3.06,
                    "women": True,
                    "men": True,
                    "children": True,
                    "rooms": rooms,
                }
            ],
            "households": [
                {
                    "id": f"h{i}",
                    "priority": 1 + i % 4,
                    "waiting_since": (t0 - timedelta(minutes=10 * i)).isoformat(),
                    "origin": {"lat": 50.62, "lon": 3.05},
                    "members": [
                        {"age": a, "sex": "F" if k % 2 else "M"} for k, a in enumerate(ages)
                    ],
                }
                for i, ages in enumerate(families)
            ],
        }
    )


FAMILIES = [[35, 36] + [1] * (1 + i % 3) + [8] * (i % 4) for i in range(6)]


def test_rooms_differing_only_by_cribs_merge_into_few_types() -> None:
    # 80 two-bed rooms with 0..79 cribs: no household has more than 3 babies, so cribs past
    # 3 change nothing; this shape used to make ~10k candidates and stall CP-SAT for 20-30 s
    # on a 10 s limit.
    rooms = [{"id": f"r{k}", "beds": 2, "cribs": k} for k in range(80)]
    prob = _shelter_night(rooms, FAMILIES)
    plan = solve(prob)
    assert check(prob, plan) == []
    # It used to make ~10k candidates and take 20-30 s for a 10 s limit (the suite's
    # crib-rooms night measures the time; here the size, which does not depend on load).
    assert plan.stats.candidates < 100
    assert plan.stats.bounded == {}  # lossless: nothing bounded
    assert plan.status == "optimal"


def test_room_set_explosion_is_bounded_and_reported() -> None:
    # 100 rooms of distinct (beds, cribs), up to 4 rooms per household and a household of 12
    # babies (so no crib is useless): ~10^5 room sets per household without a bound.
    rooms = [{"id": f"r{k}", "beds": 1 + k % 4, "cribs": k % 13} for k in range(100)]
    families = [[30] + [1] * 12, *FAMILIES[1:]]
    prob = _shelter_night(rooms, families, max_rooms_per_household=4)
    plan = solve(prob)
    assert check(prob, plan) == []
    assert plan.stats.bounded["room_sets_pairs"] >= 1
    # The model's size is what is bounded (at most this many room sets per pair).
    assert plan.stats.candidates <= len(families) * DEFAULT_PARAMS.max_combos_per_pair
    # Everyone fits in 100 rooms: the plan still places them all.
    assert not plan.unplaced


def test_pruning_asks_the_candidates_not_the_pairs() -> None:
    """A night whose every pair is listed (about 2,000 pairs, 3,000 candidates) is kept
    whole under a limit of 3,600 candidates (pruning at half as many pairs restricted it,
    and its LP then bounded nothing), and pruned to each household's nearest shelters
    under 2,500."""
    from dataclasses import replace

    from allocation.model import prepare
    from allocation.tools.generate import generate_problem

    problem = generate_problem(40, 160, seed=2, region="nord")
    whole = prepare(problem, replace(DEFAULT_PARAMS, max_candidates=3_600))
    assert not whole.restricted and 1_800 < len(whole.cands) <= 3_600
    pruned = prepare(problem, replace(DEFAULT_PARAMS, max_candidates=2_500))
    assert pruned.restricted and len(pruned.cands) < len(whole.cands)
