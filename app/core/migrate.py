"""Run Alembic from Python (the CLI's ``migrate``, the demo, the tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from app.core.config import Settings, get_settings
from app.core.paths import ALEMBIC_INI

SAME_ROLE = (
    "the service connects as the schema owner: only triggers protect the audit log "
    "(set MIGRATION_DATABASE_URL, README: Production)"
)


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config(str(ALEMBIC_INI))
    cfg.attributes["database_url"] = database_url or get_settings().owner_database_url
    # Keep the application's own logging configuration.
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade_to_head(database_url: str | None = None) -> None:
    command.upgrade(alembic_config(database_url), "head")


def migrate(settings: Settings | None = None) -> list[str]:
    """Upgrade as the schema owner, then set the service role's privileges (PostgreSQL).

    Returns lines for the operator: what still leaves the audit log unprotected.
    """
    from app.core.db import make_engine
    from app.core.roles import grant_service_role, service_role_warnings, url_user

    settings = settings or get_settings()
    owner_url = settings.owner_database_url
    upgrade_to_head(owner_url)
    if settings.is_sqlite:
        return []
    engine = make_engine(owner_url, pool_size=1)
    try:
        with engine.begin() as conn:
            migrator = conn.execute(text("SELECT current_user")).scalar_one()
            service_role = url_user(settings.database_url) or migrator
            if service_role != migrator:
                return grant_service_role(conn, service_role)
            # No MIGRATION_DATABASE_URL: fine if this role owns nothing (the owner migrated
            # elsewhere, e.g. a release job); a warning if the service is the owner.
            if service_role_warnings(conn, service_role):
                return [SAME_ROLE]
            return []
    finally:
        engine.dispose()
