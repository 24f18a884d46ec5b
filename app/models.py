"""Every table, imported in one place for Alembic and the schema tests."""

from app.allocations.models import AllocationLock, AllocationRun
from app.audit.models import AuditEvent
from app.auth.models import ApiToken
from app.core.db import Base
from app.core.idempotency_models import IdempotencyRecord
from app.placements.models import Placement, PlacementRoom
from app.requests.models import PlacementRequest
from app.shelters.models import Room, Shelter
from app.territories.models import Territory, territory_neighbours

__all__ = [
    "AllocationLock",
    "AllocationRun",
    "ApiToken",
    "AuditEvent",
    "Base",
    "IdempotencyRecord",
    "Placement",
    "PlacementRequest",
    "PlacementRoom",
    "Room",
    "Shelter",
    "Territory",
    "territory_neighbours",
]
