"""Tokens (admin) and ``/me`` (any token)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from sqlalchemy import select

from app.audit.service import record, refusals_by_token
from app.auth import service
from app.auth.dependencies import AdminDep, Principal, PrincipalDep
from app.auth.models import ApiToken, Role
from app.auth.schemas import Me, TokenCreate, TokenCreated, TokenOut, TokenRotate
from app.auth.service import create_token
from app.core.deps import SessionDep
from app.core.errors import ProblemError, forbidden, not_found
from app.core.problems import PROBLEM_RESPONSES
from app.territories.models import Territory
from app.territories.service import by_code

router = APIRouter(tags=["tokens"], responses=PROBLEM_RESPONSES)


def _out(token: ApiToken, codes: dict[str, str], refused_attempts: int = 0) -> TokenOut:
    return TokenOut(
        id=token.id,
        name=token.name,
        role=Role(token.role),
        territory=codes.get(token.territory_id) if token.territory_id else None,
        shelter_id=token.shelter_id,
        created_at=token.created_at,
        revoked_at=token.revoked_at,
        expires_at=token.expires_at,
        rotated_at=token.rotated_at,
        previous_valid_until=token.previous_valid_until,
        refused_attempts=refused_attempts,
    )


@router.get("/me", response_model=Me, summary="Who this token is (any token)")
def me(principal: PrincipalDep) -> Me:
    return Me(
        token_id=principal.token_id,
        name=principal.name,
        role=principal.role,
        shelter_id=principal.shelter_id,
        territory=principal.territory_code,
        national=principal.national,
    )


def _codes(session: SessionDep, tokens: list[ApiToken]) -> dict[str, str]:
    ids = sorted({t.territory_id for t in tokens if t.territory_id})
    if not ids:
        return {}
    rows = session.execute(select(Territory.id, Territory.code).where(Territory.id.in_(ids)))
    return {tid: code for tid, code in rows}


def _new_token_territory(
    session: SessionDep, principal: Principal, data: TokenCreate
) -> str | None:
    """A territory admin's tokens are its territory's; a national admin names one (or
    makes a national token)."""
    if not principal.national:
        if data.national or (data.territory and data.territory != principal.territory_code):
            raise forbidden("A territory's admin makes tokens of its own territory.", principal)
        return principal.require_territory()
    if data.national:
        return None
    if data.territory is None:
        return principal.territory_id or (
            None if data.shelter_id else principal.require_territory()
        )
    territory = by_code(session, data.territory)
    if territory is None:
        raise ProblemError(
            422,
            f"No territory {data.territory!r}.",
            errors=[{"loc": ["body", "territory"], "msg": "unknown territory"}],
        )
    return territory.id


@router.post(
    "/tokens",
    status_code=201,
    response_model=TokenCreated,
    summary="Create a token (admin); the plaintext is in this response only",
)
def post_token(data: TokenCreate, session: SessionDep, principal: AdminDep) -> TokenCreated:
    token, plaintext = create_token(
        session,
        data.role,
        data.name,
        data.shelter_id,
        data.expires_at,
        territory_id=_new_token_territory(session, principal, data),
        national=data.national,
    )
    expires = data.expires_at.isoformat() if data.expires_at else None
    detail = {"role": token.role, "shelter_id": token.shelter_id, "expires_at": expires}
    # The token's territory's log (a national admin's act on a territory shows there too).
    record(
        session,
        principal,
        "token.create",
        "token",
        token.id,
        detail,
        territory_id=token.territory_id,
    )
    return TokenCreated(**_out(token, _codes(session, [token])).model_dump(), token=plaintext)


@router.get("/tokens", response_model=list[TokenOut], summary="Every token, no secrets (admin)")
def list_tokens(session: SessionDep, principal: AdminDep) -> list[TokenOut]:
    rows = list(session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)))
    refused = refusals_by_token(session)
    codes = _codes(session, rows)
    return [_out(t, codes, refused.get(t.id, 0)) for t in rows]


@router.post(
    "/tokens/{token_id}/revoke",
    response_model=TokenOut,
    summary="Revoke a token at once (admin); revoking twice changes nothing",
)
def revoke_token(token_id: str, session: SessionDep, principal: AdminDep) -> TokenOut:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise not_found("token")
    if service.revoke_token(session, token):
        record(session, principal, "token.revoke", "token", token.id, {"role": token.role})
    return _out(token, _codes(session, [token]))


@router.post(
    "/tokens/{token_id}/rotate",
    response_model=TokenCreated,
    summary="A new secret for a token (admin); the old one works for grace_minutes more",
    description=(
        "The token keeps its id, role and audit trail. The new plaintext is in this response "
        "only. The secret being replaced keeps working for `grace_minutes` (default 60, 0: "
        "stops now) so that its clients can be switched over; a secret from an earlier "
        "rotation stops at once. A revoked or expired token is 409."
    ),
    responses={409: {"description": "The token is revoked or expired"}},
)
def rotate_token(
    token_id: str, session: SessionDep, principal: AdminDep, data: TokenRotate | None = None
) -> TokenCreated:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise not_found("token")
    grace = (data or TokenRotate()).grace_minutes
    plaintext = service.rotate_token(session, token, timedelta(minutes=grace))
    record(session, principal, "token.rotate", "token", token.id, {"grace_minutes": grace})
    return TokenCreated(**_out(token, _codes(session, [token])).model_dump(), token=plaintext)
