"""``./dev demo``'s two territories: the Nord and the Pas-de-Calais, neighbours both ways,
with tokens for each, and a neighbour's confidential shelter kept at its cell."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select


def test_the_demo_has_two_neighbouring_territories(client: Any, session: Any) -> None:
    from app.__main__ import _demo_tokens
    from app.demo.loader import load_demo, load_two_territory_demo
    from app.territories.models import Territory

    load_demo(session, "ter_59")
    load_two_territory_demo(session, "ter_59")
    territories = list(session.scalars(select(Territory).order_by(Territory.code)))
    tokens = _demo_tokens(session, territories)
    session.commit()

    by = {(where, role): plaintext for where, role, _, plaintext in tokens}
    assert {where for where, _ in by} == {"national", "59", "62"}
    national = {"Authorization": f"Bearer {by['national', 'admin']}"}
    listed = client.get("/api/v1/territories", headers=national).json()
    assert {t["code"]: t["neighbours"] for t in listed} == {"59": ["62"], "62": ["59"]}

    operator_62 = {"Authorization": f"Bearer {by['62', 'operator']}"}
    seen = client.get("/api/v1/shelters", headers=operator_62).json()
    communes = {s["commune"] for s in seen}
    assert {"Arras", "Valenciennes"} <= communes  # its own and its neighbour's
    for s in seen:  # a confidential shelter, its own or the Nord's: the cell, no address
        if s["confidential"]:
            assert s["address"] is None and s["location_precision"] == "approximate"
    admin_62 = {"Authorization": f"Bearer {by['62', 'admin']}"}
    nord_confidential = next(
        s for s in client.get("/api/v1/shelters", headers=admin_62).json()
        if s["confidential"] and s["commune"] != "Béthune"
    )  # fmt: skip
    assert nord_confidential["address"] is None  # a neighbour's admin is no admin there
    r = client.patch(
        f"/api/v1/shelters/{nord_confidential['id']}",
        json={"name": "x"},
        headers={**admin_62, "If-Match": f'"{nord_confidential["id"]}-v1"'},
    )
    assert r.status_code == 403

    run = client.post("/api/v1/allocations", headers=operator_62).json()
    assert run["status"] in ("optimal", "feasible") and run["proposals"]
    staff_62 = {"Authorization": f"Bearer {by['62', 'shelter']}"}
    me = client.get("/api/v1/me", headers=staff_62).json()
    assert me["territory"] == "62" and me["shelter_id"] == "shl_demo_arr_vauban"
