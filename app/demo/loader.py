"""Load the demo region into an empty database (flush only; the caller commits)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.core.db import utcnow
from app.requests.models import PlacementRequest, RequestStatus
from app.requests.schemas import RequestCreate
from app.shelters.models import Room, Shelter
from app.shelters.schemas import ShelterCreate


def has_shelters(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Shelter)))


def load_demo(session: Session) -> dict[str, int]:
    """Shelters, rooms and tonight's waiting requests; returns how many of each were added.

    Every record goes through the API's own schemas, so the demo cannot hold data that the
    API would refuse.
    """
    from app.demo.data import REQUESTS, SHELTERS

    now = utcnow()
    rooms = 0
    for item in SHELTERS:
        fields = {k: v for k, v in item.items() if k not in {"id", "rooms", "updated_hours_ago"}}
        data = ShelterCreate.model_validate(fields)
        ago = item["updated_hours_ago"]
        shelter = Shelter(
            id=item["id"],
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
    for item in REQUESTS:
        body: dict[str, Any] = {
            k: v for k, v in item.items() if k not in {"key", "minutes_waiting", "keep_apart"}
        }
        body["keep_apart"] = [
            {"request_id": ids_by_key[k["key"]], "km": k["km"]} for k in item.get("keep_apart", [])
        ]
        data = RequestCreate.model_validate(body)
        req = PlacementRequest(
            reference=data.reference,
            status=RequestStatus.pending.value,
            priority=data.priority,
            waiting_since=now - timedelta(minutes=item["minutes_waiting"]),
            origin_lat=data.origin.lat,
            origin_lon=data.origin.lon,
            max_km=data.max_km,
            members=[m.model_dump() for m in data.members],
            needs=data.needs.model_dump(),
            avoid=[a.model_dump() for a in data.avoid],
            excluded_shelters=list(data.excluded_shelters),
            keep_apart=[k.model_dump() for k in data.keep_apart],
            created_by="demo",
            version=1,
        )
        session.add(req)
        session.flush()
        if "key" in item:
            ids_by_key[item["key"]] = req.id
    counts = {"shelters": len(SHELTERS), "rooms": rooms, "requests": len(REQUESTS)}
    record(session, None, "demo.load", "demo", None, counts)
    session.flush()
    return counts
