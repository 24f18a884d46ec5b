from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime, new_id, utcnow


class Role(StrEnum):
    admin = "admin"
    operator = "operator"
    shelter = "shelter"
    viewer = "viewer"


class ApiToken(Base):
    """A client's bearer token. Only its SHA-256 is stored; the token is shown once.

    Rotation gives the token a new secret (``token_hash``) and keeps the old one working
    until ``previous_valid_until`` (``previous_hash``), so that a client can be switched
    over without an outage; the token's id, role and audit trail stay the same.
    """

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("tok"))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # Null only for a national admin (role admin): it manages territories and acts on any
    # territory it names; every other token belongs to one territory.
    territory_id: Mapped[str | None] = mapped_column(ForeignKey("territories.id"), index=True)
    shelter_id: Mapped[str | None] = mapped_column(
        ForeignKey("shelters.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    previous_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    previous_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
