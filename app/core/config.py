"""Settings from environment variables (documented in the README)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # The service's connection. On PostgreSQL, a role that may not change the audit log.
    database_url: str = "sqlite:///./abri.db"
    # The schema owner's connection, used by ``python -m app migrate`` only (README,
    # Production). Unset: migrations run as DATABASE_URL's role.
    migration_database_url: str | None = None
    # How long a proposed placement holds its beds before it expires (Finding a Bed Tonight: 90).
    hold_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 90
    allocation_time_limit_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    # Deterministic engine runs (same problem, same plan: a night can be replayed). The
    # engine budgets work units, still capped by ALLOCATION_TIME_LIMIT_S on the wall clock
    # (its stats say when the clock cut a stage). false: the limit is wall-clock only.
    allocation_deterministic: bool = True
    # Runs are jobs executed by worker processes (``python -m app worker``, README,
    # "Workers"). A run whose worker died is retried until it has been tried this often,
    # then ends failed; a run no worker took within ALLOCATION_QUEUE_TIMEOUT_S ends failed.
    allocation_max_attempts: Annotated[int, Field(ge=1, le=10)] = 2
    allocation_queue_timeout_s: Annotated[float, Field(gt=0, le=24 * 3600)] = 600.0
    # The worker the web process starts itself: "process" (a ``python -m app worker``
    # child of ``serve``/``demo``), "thread" (inside each web process), "off" (run your
    # own workers), "auto": process on SQLite, off on PostgreSQL.
    local_worker: Literal["auto", "process", "thread", "off"] = "auto"
    # How often an idle worker looks at the queue when no notification came (PostgreSQL's
    # LISTEN/NOTIFY wakes it at once; SQLite has only this).
    worker_poll_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    # 0 disables the periodic re-planning loop.
    allocation_interval_s: Annotated[float, Field(ge=0)] = 0.0
    # How often each worker expires overdue holds (a run also does it first); 0 disables.
    hold_expiry_check_s: Annotated[float, Field(ge=0)] = 30.0
    # Freshness of a shelter's availability, as the dashboard judges it.
    availability_ageing_hours: Annotated[float, Field(gt=0)] = 4.0
    availability_stale_hours: Annotated[float, Field(gt=0)] = 8.0
    # Closed requests keep their household detail this long, then it is purged.
    retention_days: Annotated[int, Field(ge=1)] = 90
    log_level: str = "INFO"
    log_json: bool = False
    # uvicorn's line per request (at INFO). A reverse proxy in front usually logs the same.
    access_log: bool = True
    db_pool_size: Annotated[int, Field(ge=1)] = 10
    # Largest request body accepted (bytes); larger is 413 before it is read. The reverse
    # proxy in front should refuse the same (nginx: client_max_body_size 1m).
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024
    # A request's waiting_since may go back at most this many days.
    waiting_since_max_days: Annotated[int, Field(ge=1, le=3650)] = 30
    # /docs (Swagger UI, served from the package's own files, no CDN); false hides it.
    docs_enabled: bool = True
    # The SIAO's local time: where its nights begin and end (the unmet-requests report).
    siao_timezone: str = "Europe/Paris"
    # Confidential shelters in the HSDS export: "omit" them, or show them at their published
    # ~5 km cell with a generic name ("cell"; their free beds are then public too).
    hsds_confidential: Literal["omit", "cell"] = "omit"
    # The territory a single-SIAO database becomes (migration 0006) and the one a fresh
    # database starts with: the département's code and name (README, "Territories").
    territory_code: Annotated[
        str, Field(min_length=1, max_length=10, pattern=r"^[0-9A-Za-z]+$")
    ] = "59"
    territory_name: Annotated[str, Field(min_length=1, max_length=200)] = "Nord"

    @field_validator("migration_database_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, url: str | None) -> str | None:
        return url or None

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _use_psycopg3(cls, url: str | None) -> str | None:
        # Accept the plain URL operators copy from their PostgreSQL setup.
        if url is None:
            return None
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @field_validator("siao_timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (IANA, e.g. Europe/Paris)") from None
        return name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.siao_timezone)

    @property
    def owner_database_url(self) -> str:
        """Where migrations run: the schema owner, or the service's own role."""
        return self.migration_database_url or self.database_url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def local_worker_mode(self) -> Literal["process", "thread", "off"]:
        """What ``auto`` means here: a local worker process on SQLite (the two-command
        demo), none on PostgreSQL (production runs ``python -m app worker`` processes)."""
        if self.local_worker == "auto":
            return "process" if self.is_sqlite else "off"
        return self.local_worker


@lru_cache
def get_settings() -> Settings:
    return Settings()
