"""Run Alembic from Python (the CLI's ``migrate``, the demo, the tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from app.core.config import get_settings
from app.core.paths import ALEMBIC_INI


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config(str(ALEMBIC_INI))
    cfg.attributes["database_url"] = database_url or get_settings().database_url
    # Keep the application's own logging configuration.
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade_to_head(database_url: str | None = None) -> None:
    command.upgrade(alembic_config(database_url), "head")
