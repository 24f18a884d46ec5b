"""Who is calling: bearer token → principal, and role checks for every endpoint."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.auth.models import ApiToken, Role
from app.core.db import utcnow
from app.core.deps import SessionDep
from app.core.errors import ProblemError, forbidden
from app.territories.models import Territory, territory_neighbours
from app.territories.scope import TerritoryScope, set_scope
from app.territories.service import TerritoryView, territory_view

_bearer = HTTPBearer(auto_error=False, description="An Abri API token")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_live_token(session: Session, secret: str, now: datetime) -> ApiToken | None:
    """The token this secret opens now: its current secret, or the previous one within the
    rotation's grace period; never a revoked or expired token."""
    return find_live_token_in_territory(session, secret, now)[0]


def find_live_token_in_territory(
    session: Session, secret: str, now: datetime
) -> tuple[ApiToken | None, TerritoryView | None]:
    """``find_live_token`` and its territory with its neighbours, in the same one query
    (every request does it: no second round trip)."""
    digest = hash_token(secret)
    rows = session.execute(
        select(ApiToken, Territory.code, territory_neighbours.c.neighbour_id)
        .outerjoin(Territory, Territory.id == ApiToken.territory_id)
        .outerjoin(
            territory_neighbours, territory_neighbours.c.territory_id == ApiToken.territory_id
        )
        .where(or_(ApiToken.token_hash == digest, ApiToken.previous_hash == digest))
        .order_by(territory_neighbours.c.neighbour_id)
    ).all()
    token = rows[0][0] if rows else None
    if token is None or not _live(token, digest, now):
        return None, None
    view = None
    if token.territory_id is not None:
        view = TerritoryView(
            token.territory_id, rows[0][1], tuple(r[2] for r in rows if r[2] is not None)
        )
    return token, view


def _live(token: ApiToken, digest: str, now: datetime) -> bool:
    if token.revoked_at is not None:
        return False
    if token.expires_at is not None and token.expires_at <= now:
        return False
    return token.token_hash == digest or (
        token.previous_valid_until is not None and token.previous_valid_until > now
    )


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    role: Role
    shelter_id: str | None = None
    # The territory this principal acts in: its token's, or the one a national admin named
    # (``?territory=``); None for a national admin that named none.
    territory_id: str | None = None
    territory_code: str | None = None
    # A national admin: a token with role admin and no territory.
    national: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    def manages(self, territory_id: str) -> bool:
        """An admin of that territory, or a national admin."""
        return self.is_admin and (self.national or self.territory_id == territory_id)

    def may_see_shelter_internals(self, shelter_id: str, territory_id: str) -> bool:
        """The shelter's territory's admins and its own staff see a confidential address
        and position; a neighbour territory's admin sees it as an operator does."""
        return self.manages(territory_id) or (
            self.role is Role.shelter and self.shelter_id == shelter_id
        )

    def require_territory(self) -> str:
        """The territory this act belongs to; a national admin must name one (422)."""
        if self.territory_id is None:
            raise ProblemError(
                422,
                "A national admin names the territory it acts on: ?territory=CODE.",
                errors=[{"loc": ["query", "territory"], "msg": "required for a national admin"}],
            )
        return self.territory_id


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, detail, headers={"WWW-Authenticate": "Bearer"})


TerritoryQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=10,
        description="A national admin's token: the territory (its code, e.g. `59`) this "
        "request acts on. Any other token belongs to one territory: naming another is 403.",
    ),
]


def get_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    territory: TerritoryQuery = None,
) -> Principal:
    """The caller, and its territory's scope on this request's session
    (``app.territories.scope``): from here on, the session sees that territory only."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("A bearer token is required.")
    # Read on every request, on every endpoint: a revoked or expired token is refused at
    # once by every worker (no cache of answered tokens anywhere).
    set_scope(session, None)
    token, own = find_live_token_in_territory(session, credentials.credentials, utcnow())
    if token is None:
        raise _unauthorized("This token is not valid (unknown, revoked or expired).")
    role = Role(token.role)
    national = role is Role.admin and token.territory_id is None
    base = Principal(
        token_id=token.id,
        name=token.name,
        role=role,
        shelter_id=token.shelter_id,
        national=national,
    )
    view = territory_view(session, None, territory) if national and territory else own
    if territory is not None and not national and (view is None or view.code != territory):
        # No lookup of the named territory: the answer says nothing of whether it exists.
        raise forbidden("This token belongs to one territory; it may not name another.", base)
    if national and territory is not None and view is None:
        raise ProblemError(
            422,
            f"No territory {territory!r}.",
            errors=[{"loc": ["query", "territory"], "msg": "unknown territory"}],
        )
    if view is None:
        return base
    set_scope(
        session,
        TerritoryScope(
            territory_id=view.id,
            shelter_territories=(view.id, *view.neighbours),
            filter_requests=role is not Role.shelter,
        ),
    )
    return Principal(
        token_id=token.id,
        name=token.name,
        role=role,
        shelter_id=token.shelter_id,
        territory_id=view.id,
        territory_code=view.code,
        national=national,
    )


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def role_checker(*roles: Role) -> Callable[[Principal], Principal]:
    """A plain function that lets ``roles`` through and answers 403 to anyone else."""
    allowed = frozenset(roles)

    def _check(principal: Principal) -> Principal:
        if principal.role not in allowed:
            raise forbidden(f"The {principal.role.value} role may not do this.", principal)
        return principal

    return _check


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """The dependency form of ``role_checker``.

    ``async`` because it does no I/O: FastAPI runs a plain ``def`` dependency in the
    threadpool, one thread hand-off per request for a set lookup.
    """
    check = role_checker(*roles)

    async def _check(principal: PrincipalDep) -> Principal:
        return check(principal)

    return _check


AdminDep = Annotated[Principal, Depends(require_roles(Role.admin))]
OperatorDep = Annotated[Principal, Depends(require_roles(Role.admin, Role.operator))]
ReaderDep = Annotated[Principal, Depends(require_roles(Role.admin, Role.operator, Role.viewer))]
