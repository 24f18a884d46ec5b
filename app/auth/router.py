"""Tokens (admin) and ``/me`` (any token)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from app.audit.service import record
from app.auth.dependencies import AdminDep, PrincipalDep
from app.auth.models import ApiToken, Role
from app.auth.schemas import Me, TokenCreate, TokenCreated, TokenOut
from app.auth.service import create_token
from app.core.db import utcnow
from app.core.deps import SessionDep
from app.core.errors import not_found
from app.core.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["tokens"], responses=PROBLEM_RESPONSES)


def _out(token: ApiToken) -> TokenOut:
    return TokenOut(
        id=token.id,
        name=token.name,
        role=Role(token.role),
        shelter_id=token.shelter_id,
        created_at=token.created_at,
        revoked_at=token.revoked_at,
    )


@router.get("/me", response_model=Me, summary="Who this token is (any token)")
def me(principal: PrincipalDep) -> Me:
    return Me(
        token_id=principal.token_id,
        name=principal.name,
        role=principal.role,
        shelter_id=principal.shelter_id,
    )


@router.post(
    "/tokens",
    status_code=201,
    response_model=TokenCreated,
    summary="Create a token (admin); the plaintext is in this response only",
)
def post_token(data: TokenCreate, session: SessionDep, principal: AdminDep) -> TokenCreated:
    token, plaintext = create_token(session, data.role, data.name, data.shelter_id)
    record(
        session,
        principal,
        "token.create",
        "token",
        token.id,
        {"role": token.role, "shelter_id": token.shelter_id},
    )
    return TokenCreated(**_out(token).model_dump(), token=plaintext)


@router.get("/tokens", response_model=list[TokenOut], summary="Every token, no secrets (admin)")
def list_tokens(session: SessionDep, principal: AdminDep) -> list[TokenOut]:
    rows = session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id))
    return [_out(t) for t in rows]


@router.post(
    "/tokens/{token_id}/revoke",
    response_model=TokenOut,
    summary="Revoke a token at once (admin); revoking twice changes nothing",
)
def revoke_token(token_id: str, session: SessionDep, principal: AdminDep) -> TokenOut:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise not_found("token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
        record(session, principal, "token.revoke", "token", token.id, {"role": token.role})
    return _out(token)
