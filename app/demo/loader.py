"""Load the demo region into an empty database (flush only; the caller commits)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.core.db import utcnow
from app.requests.schemas import RequestCreate
from app.requests.service import new_request
from app.shelters.models import Room, Shelter
from app.shelters.schemas import ShelterCreate
from app.territories.models import Territory
from app.territories.service import create_territory, set_neighbours


def has_shelters(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Shelter)))


def load_demo(
    session: Session,
    territory_id: str,
    shelters: list[dict[str, Any]] | None = None,
    requests: list[dict[str, Any]] | None = None,
) -> dict[str, int]:
    """Shelters, rooms and tonight's waiting requests; returns how many of each were added.

    Every record goes through the API's own schemas, so the demo cannot hold data that the
    API would refuse.
    """
    from app.demo.data import REQUESTS, SHELTERS

    shelters = SHELTERS if shelters is None else shelters
    requests = REQUESTS if requests is None else requests
    now = utcnow()
    rooms = 0
    for item in shelters:
        fields = {k: v for k, v in item.items() if k not in {"id", "rooms", "updated_hours_ago"}}
        data = ShelterCreate.model_validate(fields)
        ago = item["updated_hours_ago"]
        shelter = Shelter(
            id=item["id"],
            territory_id=territory_id,
            **data.model_dump(mode="json"),
            active=True,
            version=1,
            availability_updated_at=None if ago is None else now - timedelta(hours=ago),
        )
        session.add(shelter)
        for label, beds, cribs, shared, sex, wheelchair, oos, occupied in item["rooms"]:
            session.add(
                Room(
                    shelter_id=item["id"],
                    label=label,
                    beds=beds,
                    cribs=cribs,
                    shared=shared,
                    sex=sex,
                    wheelchair=wheelchair,
                    out_of_service=oos,
                    occupied_beds=occupied,
                    version=1,
                )
            )
            rooms += 1
    session.flush()

    ids_by_key: dict[str, str] = {}
    for item in requests:
        body: dict[str, Any] = {
            k: v for k, v in item.items() if k not in {"key", "minutes_waiting", "keep_apart"}
        }
        body["keep_apart"] = [
            {"request_id": ids_by_key[k["key"]], "km": k["km"]} for k in item.get("keep_apart", [])
        ]
        data = RequestCreate.model_validate(body)
        req = new_request(
            data,
            territory_id=territory_id,
            waiting_since=now - timedelta(minutes=item["minutes_waiting"]),
            created_by="demo",
        )
        session.add(req)
        session.flush()
        if "key" in item:
            ids_by_key[item["key"]] = req.id
    counts = {"shelters": len(shelters), "rooms": rooms, "requests": len(requests)}
    record(session, None, "demo.load", "demo", None, counts, territory_id=territory_id)
    session.flush()
    return counts


def load_two_territory_demo(session: Session, nord_id: str) -> Territory:
    """The Pas-de-Calais next to the Nord (the main demo), each the other's neighbour."""
    from app.demo.data import PDC_REQUESTS, PDC_SHELTERS

    pdc = create_territory(session, "62", "Pas-de-Calais")
    load_demo(session, pdc.id, PDC_SHELTERS, PDC_REQUESTS)
    nord = session.get(Territory, nord_id)
    assert nord is not None
    set_neighbours(session, pdc, [nord.code])
    set_neighbours(session, nord, [pdc.code])
    return pdc
