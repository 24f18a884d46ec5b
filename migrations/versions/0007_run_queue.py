"""run queue: the run row is the job (queued, attempts, claimed_by), one active run per
territory

A run is enqueued as ``queued`` and claimed by a worker process (``python -m app worker``).
The partial unique index allows one ``queued`` or ``running`` run per territory; the code
before this revision already kept at most one ``running`` run per territory (under its
lease, a new run failed every run left ``running`` before starting), so existing rows
satisfy it. Existing runs were queued when they started.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = sa.text("status IN ('queued', 'running')")


def upgrade() -> None:
    with op.batch_alter_table("allocation_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queued_at", app.core.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
    op.execute("UPDATE allocation_runs SET queued_at = started_at, attempts = 1")
    op.create_index(
        "ix_allocation_runs_one_active",
        "allocation_runs",
        ["territory_id"],
        unique=True,
        postgresql_where=_ACTIVE,
        sqlite_where=_ACTIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_allocation_runs_one_active", table_name="allocation_runs")
    # A queued run has no meaning for the code before this revision.
    op.execute(
        "UPDATE allocation_runs SET status = 'failed', error = 'not run: the queue was "
        "removed by a downgrade' WHERE status = 'queued'"
    )
    with op.batch_alter_table("allocation_runs", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("attempts")
        batch_op.drop_column("queued_at")
