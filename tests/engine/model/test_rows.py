"""The rows as a sparse matrix (``allocation.model.RowMatrix``): a sub-model's rows."""

from __future__ import annotations

import random

from allocation.model import Row, RowMatrix


def test_restricting_the_rows_keeps_exactly_the_terms_of_the_kept_candidates() -> None:
    rng = random.Random(7)
    n = 200
    rows = []
    for _ in range(60):
        vs = rng.sample(range(n), rng.randint(1, 12))
        rows.append(Row(vs, [rng.randint(1, 4) for _ in vs], rng.randint(1, 6)))
    matrix = RowMatrix.of(rows, n)
    idx = sorted(rng.sample(range(n), 70))
    pos = {v: i for i, v in enumerate(idx)}
    want = {}
    for r, row in enumerate(rows):
        terms = sorted((pos[v], k) for v, k in zip(row.vars, row.coeffs, strict=True) if v in pos)
        if terms:
            want[r] = terms
    got = {r: list(zip(at, ks, strict=True)) for r, at, ks in matrix.restricted(idx)}
    assert got == want
    assert [int(u) for u in matrix.ub] == [row.ub for row in rows]
    # Selecting rows gives what a matrix of those rows alone gives.
    keep = [r % 3 != 0 for r in range(len(rows))]
    alone = RowMatrix.of([row for row, k in zip(rows, keep, strict=True) if k], n)
    selected = matrix.select(keep)
    assert list(selected.restricted(idx)) == list(alone.restricted(idx))
    assert selected.ub.tolist() == alone.ub.tolist()
