"""Dependencies shared by every router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from app.core.config import Settings, get_settings
from app.core.db import get_session

# scope="function": commit (or roll back) before the response is sent, so that a client
# never sees a success for a write that then failed to commit.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def _settings() -> Settings:
    # async: a cached read, not worth a threadpool hop (a plain def dependency costs one).
    return get_settings()


SettingsDep = Annotated[Settings, Depends(_settings)]
