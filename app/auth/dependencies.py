"""Who is calling: bearer token → principal, and role checks for every endpoint."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.auth.models import ApiToken, Role
from app.core.db import utcnow
from app.core.deps import SessionDep
from app.core.errors import ProblemError, forbidden

_bearer = HTTPBearer(auto_error=False, description="An Abri API token")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_live_token(session: Session, secret: str, now: datetime) -> ApiToken | None:
    """The token this secret opens now: its current secret, or the previous one within the
    rotation's grace period; never a revoked or expired token."""
    digest = hash_token(secret)
    token = session.scalar(
        select(ApiToken).where(
            or_(ApiToken.token_hash == digest, ApiToken.previous_hash == digest)
        )
    )
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.token_hash != digest and (
        token.previous_valid_until is None or token.previous_valid_until <= now
    ):
        return None
    return token


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    role: Role
    shelter_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    def may_see_shelter_internals(self, shelter_id: str) -> bool:
        """Admins and the shelter's own staff see a confidential address and position."""
        return self.is_admin or (self.role is Role.shelter and self.shelter_id == shelter_id)


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, detail, headers={"WWW-Authenticate": "Bearer"})


def get_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("A bearer token is required.")
    # Read on every request, on every endpoint: a revoked or expired token is refused at
    # once by every worker (no cache of answered tokens anywhere).
    token = find_live_token(session, credentials.credentials, utcnow())
    if token is None:
        raise _unauthorized("This token is not valid (unknown, revoked or expired).")
    return Principal(
        token_id=token.id, name=token.name, role=Role(token.role), shelter_id=token.shelter_id
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
