"""What one territory's session may read: every territory-owned query, filtered in one place.

The HTTP session of a territory's token (or of a national admin naming a territory) carries
a ``TerritoryScope`` (``set_scope``, done by ``app.auth.dependencies.get_principal``). Every
ORM SELECT, UPDATE and DELETE in that session then gets the territory's criteria
(``with_loader_criteria``), whichever router or service wrote the query: another
territory's shelter, room, request, run, token or audit event does not exist for it (404
for an id, absent from a list, not counted in a total). One filter rather than a
``WHERE`` in each of ~100 queries: a query added tomorrow is filtered too.

What stays unfiltered, on purpose:
- **placements**: beds held in a shelter are held whoever holds them. Capacity, the 409 of
  a room change and the write re-check must count a neighbour's holds too, so placements
  are filtered where they are *shown* (``placement_filter``), not where they are counted.
- **requests for a shelter token**: a household a neighbour placed in that shelter shows
  its composition to the shelter, as every placement does (the shelter role cannot read
  requests otherwise: 403 on every request endpoint).
- sessions without a scope: runs, the background loop, the CLI, ``/metrics``: they name
  their territory explicitly.
- ``all_territories(stmt)``: hold expiry, which frees a neighbour's overdue holds too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Executable, event, select, true
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from app.allocations.models import AllocationRun
from app.audit.models import AuditEvent
from app.auth.models import ApiToken
from app.placements.models import Placement
from app.requests.models import PlacementRequest
from app.shelters.models import Room, Shelter

SCOPE_KEY = "abri_territory_scope"
ALL_TERRITORIES = "abri_all_territories"

_Stmt = TypeVar("_Stmt", bound=Executable)


@dataclass(frozen=True)
class TerritoryScope:
    territory_id: str
    # Whose shelters this territory sees and places into: its own and its neighbours'.
    shelter_territories: tuple[str, ...]
    # False for a shelter token (see the module's docstring).
    filter_requests: bool = True


def set_scope(session: Session, scope: TerritoryScope | None) -> None:
    if scope is None:
        session.info.pop(SCOPE_KEY, None)
    else:
        session.info[SCOPE_KEY] = scope


def get_scope(session: Session) -> TerritoryScope | None:
    scope = session.info.get(SCOPE_KEY)
    return scope if isinstance(scope, TerritoryScope) else None


def all_territories(stmt: _Stmt) -> _Stmt:
    """This statement sees every territory's rows (hold expiry)."""
    return stmt.execution_options(**{ALL_TERRITORIES: True})


@contextmanager
def unscoped(session: Session) -> Iterator[None]:
    """Every territory's rows within the block (hold expiry), the scope restored after."""
    scope = session.info.pop(SCOPE_KEY, None)
    try:
        yield
    finally:
        if scope is not None:
            session.info[SCOPE_KEY] = scope


def placement_filter(
    territory_id: str | None, shelter_id: str | None = None
) -> ColumnElement[bool]:
    """The placements a reader is shown: its territory's (whichever shelter they are in),
    and, for a shelter token, every placement into its shelter (a neighbour's included)."""
    if shelter_id is not None:
        return Placement.shelter_id == shelter_id
    if territory_id is None:
        return true()  # a national admin who named no territory
    return Placement.territory_id == territory_id


def _criteria(scope: TerritoryScope) -> list[Any]:
    own, seen = scope.territory_id, scope.shelter_territories
    options: list[Any] = [
        with_loader_criteria(Shelter, Shelter.territory_id.in_(seen), include_aliases=True),
        with_loader_criteria(
            Room,
            Room.shelter_id.in_(select(Shelter.id).where(Shelter.territory_id.in_(seen))),
            include_aliases=True,
        ),
        with_loader_criteria(AllocationRun, AllocationRun.territory_id == own),
        with_loader_criteria(ApiToken, ApiToken.territory_id == own),
        with_loader_criteria(AuditEvent, AuditEvent.territory_id == own),
    ]
    if scope.filter_requests:
        options.append(
            with_loader_criteria(
                PlacementRequest, PlacementRequest.territory_id == own, include_aliases=True
            )
        )
    return options


@event.listens_for(Session, "do_orm_execute")
def _apply_scope(state: ORMExecuteState) -> None:
    scope = state.session.info.get(SCOPE_KEY)
    if not isinstance(scope, TerritoryScope):
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.execution_options.get(ALL_TERRITORIES):
        return
    state.statement = state.statement.options(*_criteria(scope))


__all__ = [
    "TerritoryScope",
    "all_territories",
    "get_scope",
    "placement_filter",
    "set_scope",
    "unscoped",
]
