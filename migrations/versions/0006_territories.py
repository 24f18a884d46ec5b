"""territories: every shelter, request, placement, run, token and audit event belongs to one

An existing single-SIAO database becomes one territory (code and name from TERRITORY_CODE
and TERRITORY_NAME, default 59 / Nord): every row is labelled with it, nothing is lost.
The run lease becomes one row per territory (the existing row is the new territory's).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:40:00
"""

import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose rows all belong to a territory (NOT NULL once labelled).
_OWNED = ("shelters", "placement_requests", "placements", "allocation_runs")


def _default_territory() -> tuple[str, str]:
    # The settings' own names and defaults (app.core.config), read here without importing
    # the application's settings (a migration must not depend on the rest of them).
    code = os.environ.get("TERRITORY_CODE", "59").strip() or "59"
    name = os.environ.get("TERRITORY_NAME", "Nord").strip() or "Nord"
    if not re.fullmatch(r"[0-9A-Za-z]{1,10}", code):
        raise ValueError(f"TERRITORY_CODE {code!r}: 1 to 10 letters or digits, e.g. 59 or 2A")
    return code, name[:200]


def upgrade() -> None:
    op.create_table(
        "territories",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_territories")),
        sa.UniqueConstraint("code", name=op.f("uq_territories_code")),
    )
    op.create_table(
        "territory_neighbours",
        sa.Column("territory_id", sa.String(length=40), nullable=False),
        sa.Column("neighbour_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territories.id"],
            name=op.f("fk_territory_neighbours_territory_id_territories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["neighbour_id"],
            ["territories.id"],
            name=op.f("fk_territory_neighbours_neighbour_id_territories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "territory_id", "neighbour_id", name=op.f("pk_territory_neighbours")
        ),
    )
    op.create_index(
        op.f("ix_territory_neighbours_neighbour_id"),
        "territory_neighbours",
        ["neighbour_id"],
        unique=False,
    )
    code, name = _default_territory()
    tid = f"ter_{code.lower()}"
    now = datetime.now(UTC)
    territories = sa.table(
        "territories",
        sa.column("id", sa.String),
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("version", sa.Integer),
        sa.column("created_at", app.core.db.UTCDateTime(timezone=True)),
        sa.column("updated_at", app.core.db.UTCDateTime(timezone=True)),
    )
    op.bulk_insert(
        territories,
        [
            {
                "id": tid,
                "code": code,
                "name": name,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    _label_rows(tid)
    _audit_events(tid)
    _lease_per_territory(tid)


def _label_rows(tid: str) -> None:
    for table in (*_OWNED, "api_tokens"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("territory_id", sa.String(length=40), nullable=True))
        # The table names are this module's own constants, never input.
        update = f"UPDATE {table} SET territory_id = :tid"  # noqa: S608
        op.execute(sa.text(update).bindparams(tid=tid))
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table in _OWNED:
                # api_tokens stays nullable: a national admin's token has no territory.
                batch_op.alter_column(
                    "territory_id", existing_type=sa.String(length=40), nullable=False
                )
            batch_op.create_index(batch_op.f(f"ix_{table}_territory_id"), ["territory_id"])
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_territory_id_territories"),
                "territories",
                ["territory_id"],
                ["id"],
            )


def _audit_events(tid: str) -> None:
    """Existing events are the single SIAO's. The label is outside the hash chain (which
    still verifies); on PostgreSQL the append-only trigger is set aside for this one
    statement, by the schema owner that runs migrations."""
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("territory_id", sa.String(length=40), nullable=True))
    if postgres:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    op.execute(sa.text("UPDATE audit_events SET territory_id = :tid").bindparams(tid=tid))
    if postgres:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_territory_id"), ["territory_id"])


def _lease_per_territory(tid: str) -> None:
    with op.batch_alter_table("allocation_lock", schema=None) as batch_op:
        batch_op.add_column(sa.Column("territory_id", sa.String(length=40), nullable=True))
    # The single lease row (id 1) becomes the territory's; a stale holder stays as it was.
    op.execute(sa.text("UPDATE allocation_lock SET territory_id = :tid").bindparams(tid=tid))
    op.execute("DELETE FROM allocation_lock WHERE id <> 1")
    with op.batch_alter_table("allocation_lock", schema=None) as batch_op:
        batch_op.alter_column("territory_id", existing_type=sa.String(length=40), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_allocation_lock_territory_id"), ["territory_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_allocation_lock_territory_id_territories"),
            "territories",
            ["territory_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    """Back to one SIAO: only possible while the database holds a single territory."""
    count = op.get_bind().execute(sa.text("SELECT count(*) FROM territories")).scalar_one()
    if count > 1:
        raise RuntimeError("downgrade refused: the database holds several territories")
    with op.batch_alter_table("allocation_lock", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_allocation_lock_territory_id_territories"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_allocation_lock_territory_id"), type_="unique")
        batch_op.drop_column("territory_id")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_territory_id"))
        batch_op.drop_column("territory_id")
    for table in (*_OWNED, "api_tokens"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_territory_id_territories"), type_="foreignkey"
            )
            batch_op.drop_index(batch_op.f(f"ix_{table}_territory_id"))
            batch_op.drop_column("territory_id")
    op.drop_index(op.f("ix_territory_neighbours_neighbour_id"), table_name="territory_neighbours")
    op.drop_table("territory_neighbours")
    op.drop_table("territories")
