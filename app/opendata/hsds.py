"""The shelter directory in Open Referral HSDS 3.1 (Human Services Data Specification).

Each shelter is one organization, one physical location, one service (emergency
accommodation) and the service_at_location joining them; tonight's free beds are the
service's ``capacities`` (unit: bed, and crib where the shelter has cribs), dated by the
shelter's last availability update. Ids are UUIDs derived from Abri's ids (UUID v5), so
they stay the same from one export to the next.

Confidential shelters follow ``HSDS_CONFIDENTIAL``: ``omit`` (the default) leaves them out;
``cell`` shows them with a generic name, their commune and their published ~5 km cell, no
address, no phone. Nothing here ever reads a request or a placement.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.shelters.capacity import free_rooms
from app.shelters.models import Room, Shelter
from app.shelters.service import shown_position

HSDS_VERSION = "3.1"
ConfidentialPolicy = Literal["omit", "cell"]
# A fixed namespace: the same Abri id gives the same HSDS id in every export.
_NAMESPACE = uuid.UUID("6f1d2a52-3c43-5e0b-9d0e-8b3c2f1a7e10")
_KIND_DESCRIPTION = {
    "chu": "Centre d'hébergement d'urgence (CHU)",
    "chrs": "Centre d'hébergement et de réinsertion sociale (CHRS)",
    "dv_shelter": "Hébergement spécialisé pour les victimes de violences conjugales",
    "mother_child": "Centre maternel / mère-enfant",
    "hotel": "Hôtel (nuitées financées par l'État)",
}


def hsds_id(kind: str, key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"abri:{kind}:{key}"))


UNITS: dict[str, dict[str, Any]] = {
    name: {"id": hsds_id("unit", name), "name": name, "scheme": "abri", "identifier": name}
    for name in ("bed", "crib")
}


@dataclass(frozen=True)
class ShelterCapacity:
    shelter: Shelter
    free_beds: int
    free_cribs: int
    total_beds: int
    total_cribs: int


@dataclass(frozen=True)
class HsdsDirectory:
    """The four HSDS lists, each sorted by id (stable pages)."""

    organizations: list[dict[str, Any]]
    locations: list[dict[str, Any]]
    services: list[dict[str, Any]]
    services_at_location: list[dict[str, Any]]


def load_capacities(
    session: Session, policy: ConfidentialPolicy, territory_id: str | None = None
) -> list[ShelterCapacity]:
    """Every shelter of the territory to publish (its own: a neighbour publishes its own),
    with tonight's free and total beds."""
    query = select(Shelter).order_by(Shelter.id)
    if territory_id is not None:
        query = query.where(Shelter.territory_id == territory_id)
    if policy == "omit":
        query = query.where(Shelter.confidential.is_(False))
    shelters = list(session.scalars(query))
    free: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for room in free_rooms(session, [s.id for s in shelters]):
        free[room.shelter_id][0] += room.beds
        free[room.shelter_id][1] += room.cribs
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rooms = select(Room).where(Room.shelter_id.in_([s.id for s in shelters]))
    for room in session.scalars(rooms):
        totals[room.shelter_id][0] += room.beds
        totals[room.shelter_id][1] += room.cribs
    return [
        ShelterCapacity(s, *(free[s.id] if s.active else (0, 0)), *totals[s.id]) for s in shelters
    ]


def build_directory(capacities: Iterable[ShelterCapacity], now: datetime) -> HsdsDirectory:
    organizations: list[dict[str, Any]] = []
    locations: list[dict[str, Any]] = []
    services: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for cap in capacities:
        organizations.append(_organization(cap.shelter))
        locations.append(_location(cap.shelter))
        service = _service(cap, now)
        services.append(service)
        links.append(service["service_at_locations"][0])
    return HsdsDirectory(_by_id(organizations), _by_id(locations), _by_id(services), _by_id(links))


def _by_id(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: str(item["id"]))


def _public_name(shelter: Shelter) -> str:
    if shelter.confidential:
        return f"Hébergement confidentiel — {shelter.commune}"
    return shelter.name


def _description(shelter: Shelter) -> str:
    kind = _KIND_DESCRIPTION.get(shelter.kind, shelter.kind)
    if shelter.confidential:
        return "Hébergement à adresse confidentielle ; orientation par le 115 uniquement."
    return f"{kind}, {shelter.commune}. Orientation par le 115 (SIAO)."


def _organization(shelter: Shelter) -> dict[str, Any]:
    return {
        "id": hsds_id("organization", shelter.id),
        "name": _public_name(shelter),
        "description": _description(shelter),
    }


def _location(shelter: Shelter) -> dict[str, Any]:
    lat, lon = shown_position(shelter, exact=not shelter.confidential)
    location: dict[str, Any] = {
        "id": hsds_id("location", shelter.id),
        "location_type": "physical",
        "organization_id": hsds_id("organization", shelter.id),
        "name": _public_name(shelter),
        # No postal code is kept, so no HSDS address object: the street and the commune.
        "description": (
            f"{shelter.commune} (position au carreau de ~5 km)"
            if shelter.confidential
            else ", ".join(part for part in (shelter.address, shelter.commune) if part)
        ),
        "latitude": lat,
        "longitude": lon,
    }
    return location


def _service(cap: ShelterCapacity, now: datetime) -> dict[str, Any]:
    shelter = cap.shelter
    service_id = hsds_id("service", shelter.id)
    updated = (shelter.availability_updated_at or shelter.updated_at or now).isoformat()
    capacities = [_capacity(service_id, "bed", cap.free_beds, cap.total_beds, updated)]
    if cap.total_cribs:
        capacities.append(_capacity(service_id, "crib", cap.free_cribs, cap.total_cribs, updated))
    return {
        "id": service_id,
        "organization_id": hsds_id("organization", shelter.id),
        "name": f"Hébergement d'urgence — {_public_name(shelter)}",
        "description": _description(shelter),
        "status": "active" if shelter.active else "inactive",
        "eligibility_description": _eligibility(shelter),
        "languages": [
            {"id": hsds_id("language", f"{shelter.id}:{code}"), "service_id": service_id}
            | {"code": code}
            for code in (shelter.languages or [])
        ],
        "capacities": capacities,
        "service_at_locations": [
            {
                "id": hsds_id("service_at_location", shelter.id),
                "service_id": service_id,
                "location_id": hsds_id("location", shelter.id),
            }
        ],
        "last_modified": (shelter.updated_at or now).isoformat(),
    }


def _capacity(
    service_id: str, unit: str, available: int, maximum: int, updated: str
) -> dict[str, Any]:
    return {
        "id": hsds_id("service_capacity", f"{service_id}:{unit}"),
        "service_id": service_id,
        "unit": UNITS[unit],
        "unit_id": UNITS[unit]["id"],
        "available": available,
        "maximum": maximum,
        "description": f"{unit}s free tonight",
        "updated": updated,
    }


def _eligibility(shelter: Shelter) -> str:
    who = [
        label
        for flag, label in (
            (shelter.women, "femmes"),
            (shelter.men, "hommes"),
            (shelter.children, "familles avec enfants"),
        )
        if flag
    ]
    extra = [
        label
        for flag, label in (
            (shelter.dv_specialised, "victimes de violences"),
            (shelter.wheelchair, "accessible en fauteuil"),
            (shelter.pets, "animaux acceptés"),
        )
        if flag
    ]
    return "Accueille : " + (", ".join(who) or "—") + (f" ({', '.join(extra)})" if extra else "")


def page(items: list[dict[str, Any]], page_number: int, per_page: int) -> dict[str, Any]:
    """An HSDS API page (``components.schemas.Page`` of the HSDS OpenAPI document)."""
    total = len(items)
    total_pages = max(1, -(-total // per_page))
    start = (page_number - 1) * per_page
    contents = items[start : start + per_page]
    return {
        "total_items": total,
        "total_pages": total_pages,
        "page_number": page_number,
        "size": len(contents),
        "first_page": page_number == 1,
        "last_page": page_number >= total_pages,
        "empty": not contents,
        "contents": contents,
    }
