"""Territories: lookup for every request, the national admin's CRUD, neighbours."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.errors import ProblemError, not_found
from app.territories.models import Territory, territory_neighbours


@dataclass(frozen=True)
class TerritoryView:
    id: str
    code: str
    neighbours: tuple[str, ...]  # ids of the territories whose shelters it may use


def territory_view(
    session: Session, territory_id: str | None, code: str | None = None
) -> TerritoryView | None:
    """A territory and its neighbours in one query, by id or (a national admin's) code."""
    if territory_id is None and code is None:
        return None
    where = Territory.code == code if code is not None else Territory.id == territory_id
    rows = session.execute(
        select(Territory.id, Territory.code, territory_neighbours.c.neighbour_id)
        .outerjoin(territory_neighbours, territory_neighbours.c.territory_id == Territory.id)
        .where(where)
        .order_by(territory_neighbours.c.neighbour_id)
    ).all()
    if not rows:
        return None
    return TerritoryView(rows[0][0], rows[0][1], tuple(r[2] for r in rows if r[2] is not None))


def neighbour_ids(session: Session, territory_id: str) -> list[str]:
    return list(
        session.scalars(
            select(territory_neighbours.c.neighbour_id)
            .where(territory_neighbours.c.territory_id == territory_id)
            .order_by(territory_neighbours.c.neighbour_id)
        )
    )


def shelter_territories(session: Session, territory_id: str) -> list[str]:
    """Whose shelters a territory's runs, options and manual placements may use."""
    return [territory_id, *neighbour_ids(session, territory_id)]


def by_code(session: Session, code: str) -> Territory | None:
    return session.scalar(select(Territory).where(Territory.code == code))


def get_by_code(session: Session, code: str) -> Territory:
    territory = by_code(session, code)
    if territory is None:
        raise not_found("territory")
    return territory


def lock_by_code(session: Session, code: str) -> Territory:
    """The territory locked for a change and freshly read (404 if there is none), so that
    two changes carrying the same ``If-Match`` are judged one after the other. ``FOR NO KEY
    UPDATE``: it does not wait for the foreign-key locks of rows being added to it."""
    territory = session.scalar(
        select(Territory)
        .where(Territory.code == code)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if territory is None:
        raise not_found("territory")
    return territory


def sole_territory(session: Session) -> Territory | None:
    """The only territory of a single-SIAO deployment; None when there are several."""
    rows = session.scalars(select(Territory).limit(2)).all()
    return rows[0] if len(rows) == 1 else None


def ensure_default_territory(session: Session, settings: Settings) -> Territory:
    """A database without any territory gets the configured one (as migration 0006 does)."""
    found = session.scalar(select(Territory).order_by(Territory.created_at).limit(1))
    if found is not None:
        return found
    territory = Territory(
        id=f"ter_{settings.territory_code.lower()}",
        code=settings.territory_code,
        name=settings.territory_name,
    )
    session.add(territory)
    session.flush()
    return territory


def create_territory(session: Session, code: str, name: str) -> Territory:
    if by_code(session, code) is not None:
        raise ProblemError(409, f"Territory {code!r} exists already.")
    territory = Territory(code=code, name=name)
    session.add(territory)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # a concurrent creation of the same code
        raise ProblemError(409, f"Territory {code!r} exists already.") from None
    return territory


def set_neighbours(session: Session, territory: Territory, codes: Sequence[str]) -> list[str]:
    """Replace the territory's neighbours; 422 naming each unknown code or itself."""
    ids: list[str] = []
    errors = []
    for i, code in enumerate(codes):
        other = by_code(session, code)
        if other is None:
            errors.append({"loc": ["body", "neighbours", i], "msg": f"no territory {code!r}"})
        elif other.id == territory.id:
            errors.append(
                {"loc": ["body", "neighbours", i], "msg": "a territory is not its own neighbour"}
            )
        elif other.id not in ids:
            ids.append(other.id)
    if errors:
        raise ProblemError(422, "Some neighbours are not valid.", errors=errors)
    session.execute(
        delete(territory_neighbours).where(territory_neighbours.c.territory_id == territory.id)
    )
    if ids:
        session.execute(
            insert(territory_neighbours),
            [{"territory_id": territory.id, "neighbour_id": n} for n in ids],
        )
    territory.version += 1
    session.flush()
    return ids


def codes_of(session: Session, ids: Sequence[str]) -> list[str]:
    if not ids:
        return []
    return sorted(session.scalars(select(Territory.code).where(Territory.id.in_(list(ids)))))


def is_empty(session: Session, territory_id: str) -> bool:
    """Nothing belongs to it yet: it may be deleted."""
    from app.allocations.models import AllocationRun
    from app.auth.models import ApiToken
    from app.requests.models import PlacementRequest
    from app.shelters.models import Shelter

    for model in (Shelter, PlacementRequest, ApiToken, AllocationRun):
        if session.scalar(select(exists().where(model.territory_id == territory_id))):
            return False
    return True
