from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from app.auth.dependencies import hash_token
from app.auth.models import ApiToken, Role
from app.core.errors import ProblemError
from app.shelters.models import Shelter

TOKEN_PREFIX = "abri_"


def create_token(
    session: Session, role: Role, name: str, shelter_id: str | None = None
) -> tuple[ApiToken, str]:
    """Create a token; the plaintext is returned once and never stored."""
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
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name, role=role.value, shelter_id=shelter_id, token_hash=hash_token(plaintext)
    )
    session.add(token)
    session.flush()
    return token, plaintext
