"""API tokens as the admin endpoints read and write them (never a hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.auth.models import Role


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    name: Annotated[
        str, Field(min_length=1, max_length=200, description="Who uses it, e.g. 'night desk 2'")
    ]
    shelter_id: Annotated[str, Field(min_length=1, max_length=40)] | None = Field(
        None, description="Required for (and only for) the shelter role"
    )


class TokenOut(BaseModel):
    id: str
    name: str
    role: Role
    shelter_id: str | None
    created_at: datetime
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The bearer token, shown this once; only a hash is kept")


class Me(BaseModel):
    token_id: str
    name: str
    role: Role
    shelter_id: str | None
