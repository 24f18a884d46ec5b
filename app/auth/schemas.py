"""API tokens as the admin endpoints read and write them (never a hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.auth.models import Role
from app.core.inputs import ServiceDatetime

# A week: long enough to reach every client of a token over a weekend.
MAX_GRACE_MINUTES = 7 * 24 * 60


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    name: Annotated[
        str, Field(min_length=1, max_length=200, description="Who uses it, e.g. 'night desk 2'")
    ]
    shelter_id: Annotated[str, Field(min_length=1, max_length=40)] | None = Field(
        None, description="Required for (and only for) the shelter role"
    )
    expires_at: ServiceDatetime | None = Field(
        None, description="When the token stops working by itself; null: until revoked"
    )
    territory: Annotated[str, Field(min_length=1, max_length=10)] | None = Field(
        None,
        description="A national admin only: the territory (code) the token belongs to "
        "(default: the one named by `?territory=`). A territory's admin makes tokens of its "
        "own territory; a shelter token belongs to its shelter's.",
    )
    national: bool = Field(
        False,
        description="A national admin only: a national admin token (role admin, no territory)",
    )


class TokenRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_minutes: Annotated[int, Field(ge=0, le=MAX_GRACE_MINUTES)] = Field(
        60, description="How long the current secret keeps working beside the new one"
    )


class TokenOut(BaseModel):
    id: str
    name: str
    role: Role
    territory: str | None = Field(description="Its territory's code; null: a national admin")
    shelter_id: str | None
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None
    rotated_at: datetime | None
    previous_valid_until: datetime | None = Field(
        description="Until when the secret before the last rotation still works"
    )
    refused_attempts: int = Field(
        0,
        description="Requests refused to this token (403, or 404 on another shelter's "
        "object), each in the audit log as `access.refused`",
    )


class TokenCreated(TokenOut):
    token: str = Field(description="The bearer token, shown this once; only a hash is kept")


class Me(BaseModel):
    token_id: str
    name: str
    role: Role
    shelter_id: str | None
    territory: str | None = Field(
        description="The territory this request acts in (its code): the token's, or the one "
        "a national admin named with `?territory=`"
    )
    national: bool = Field(description="A national admin: manages territories, acts on any")
