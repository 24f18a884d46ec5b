"""/metrics shows the night in numbers, the same from every worker, with no personal detail."""

from __future__ import annotations

from app.requests.models import PlacementRequest
from app.shelters.models import Room, Shelter


def test_metrics_count_waiting_households_and_free_beds(client, session) -> None:
    shelter = Shelter(
        territory_id="ter_59",
        name="CHU Test",
        kind="chu",
        lat=50.36,
        lon=3.52,
        women=True,
        men=True,
        children=True,
        commune="Valenciennes",
        languages=["fr"],
    )
    session.add(shelter)
    session.flush()
    session.add_all(
        [
            Room(shelter_id=shelter.id, label="R1", beds=4, cribs=1),
            Room(shelter_id=shelter.id, label="D1", beds=6, shared=True, sex="F", occupied_beds=2),
        ]
    )
    for priority in (4, 4, 2):
        session.add(
            PlacementRequest(
                territory_id="ter_59",
                reference="SIAO-X-1",
                priority=priority,
                origin_lat=50.3,
                origin_lon=3.5,
                members=[{"age": 30, "sex": "F"}],
            )
        )
    session.commit()

    r = client.get("/metrics")
    assert r.status_code == 200
    text = r.text
    assert 'abri_requests_pending{priority="4",territory="59"} 2.0' in text
    assert 'abri_requests_pending{priority="2",territory="59"} 1.0' in text
    assert 'abri_requests_pending{priority="3",territory="59"} 0.0' in text
    assert 'abri_free_beds{room="private",territory="59"} 4.0' in text
    assert 'abri_free_beds{room="shared",territory="59"} 4.0' in text
    assert 'abri_shelters_stale{territory="59"} 1.0' in text  # never updated counts as stale
    assert "SIAO-X-1" not in text and "Valenciennes" not in text
