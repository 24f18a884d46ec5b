"""Tokens: create, rotate, revoke. The API and the command line both come here."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.auth.dependencies import hash_token
from app.auth.models import ApiToken, Role
from app.core.db import utcnow
from app.core.errors import ProblemError
from app.shelters.models import Shelter
from app.territories.service import sole_territory

TOKEN_PREFIX = "abri_"


def _new_secret() -> tuple[str, str]:
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return plaintext, hash_token(plaintext)


def create_token(
    session: Session,
    role: Role,
    name: str,
    shelter_id: str | None = None,
    expires_at: datetime | None = None,
    *,
    territory_id: str | None = None,
    national: bool = False,
) -> tuple[ApiToken, str]:
    """Create a token; the plaintext is returned once and never stored.

    Its territory: ``territory_id``, else its shelter's, else the deployment's only
    territory (a single-SIAO database); ``national`` makes a national admin (no territory).
    """
    if expires_at is not None and expires_at <= utcnow():
        raise ProblemError(
            422,
            "A token's expiry must be in the future.",
            errors=[{"loc": ["expires_at"], "msg": "is not in the future"}],
        )
    if role is Role.shelter:
        if shelter_id is None:
            raise ProblemError(
                422,
                "A shelter token must name its shelter.",
                errors=[{"loc": ["shelter_id"], "msg": "required for role shelter"}],
            )
        if session.get(Shelter, shelter_id) is None:
            raise ProblemError(
                422,
                f"No shelter {shelter_id!r}.",
                errors=[{"loc": ["shelter_id"], "msg": "unknown shelter"}],
            )
    elif shelter_id is not None:
        raise ProblemError(
            422,
            "Only a shelter token names a shelter.",
            errors=[{"loc": ["shelter_id"], "msg": "only for role shelter"}],
        )
    territory_id = _token_territory(session, role, shelter_id, territory_id, national)
    plaintext, digest = _new_secret()
    token = ApiToken(
        name=name,
        role=role.value,
        territory_id=territory_id,
        shelter_id=shelter_id,
        token_hash=digest,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return token, plaintext


def _token_territory(
    session: Session,
    role: Role,
    shelter_id: str | None,
    territory_id: str | None,
    national: bool,
) -> str | None:
    if national:
        if role is not Role.admin or territory_id is not None:
            raise ProblemError(
                422,
                "Only an admin token may be national (without a territory).",
                errors=[{"loc": ["territory"], "msg": "a national token is an admin's"}],
            )
        return None
    shelter = session.get(Shelter, shelter_id) if shelter_id else None
    if shelter is not None:
        if territory_id is not None and territory_id != shelter.territory_id:
            raise ProblemError(
                422,
                "A shelter token belongs to its shelter's territory.",
                errors=[{"loc": ["shelter_id"], "msg": "unknown shelter"}],
            )
        return shelter.territory_id
    if territory_id is not None:
        return territory_id
    sole = sole_territory(session)
    if sole is None:
        raise ProblemError(
            422,
            "This deployment has several territories: name the token's territory.",
            errors=[{"loc": ["territory"], "msg": "required"}],
        )
    return sole.id


def rotate_token(session: Session, token: ApiToken, grace: timedelta) -> str:
    """A new secret for this token; the current one keeps working for ``grace`` (none for
    0), a secret from an earlier rotation stops now. Returns the new plaintext, once."""
    now = utcnow()
    if token.revoked_at is not None or (token.expires_at and token.expires_at <= now):
        raise ProblemError(409, "A revoked or expired token cannot be rotated; create one.")
    plaintext, digest = _new_secret()
    token.previous_hash = token.token_hash if grace > timedelta(0) else None
    token.previous_valid_until = now + grace if grace > timedelta(0) else None
    token.token_hash = digest
    token.rotated_at = now
    session.flush()
    return plaintext


def revoke_token(session: Session, token: ApiToken) -> bool:
    """Revoke at once (both secrets of a rotation); False when it already was."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    session.flush()
    return True
