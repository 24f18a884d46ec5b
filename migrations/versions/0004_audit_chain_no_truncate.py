"""audit log: hash chain (existing events chained in id order, head under a lock); no TRUNCATE

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Statement-level: emptying the log is refused too, even to its owner (0002's row trigger
# does not see TRUNCATE). The function is 0002's: it raises whatever the operation.
_TRUNCATE_TRIGGER = """
CREATE TRIGGER audit_events_no_truncate
BEFORE TRUNCATE ON audit_events
FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
"""

# The chain's head for a commit about to append events, under the chain's lock (an advisory
# lock held to the end of the transaction): one round trip. Volatile: the SELECT runs after
# the lock is granted, on a fresh snapshot, so it sees the previous holder's events.
_CHAIN_HEAD = """
CREATE OR REPLACE FUNCTION audit_events_chain_head() RETURNS text AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7017296964693786625);  -- 0x6162726900000001: the audit chain
    RETURN (SELECT chain_hash FROM audit_events ORDER BY id DESC LIMIT 1);
END;
$$ LANGUAGE plpgsql VOLATILE
"""


def _chain_existing_events() -> None:
    # The service's own chain code, so that `audit verify` accepts what this wrote; in the
    # legacy form (no territory_id): migration 0006 labels these events afterwards.
    from app.audit.chain import GENESIS
    from app.audit.chain import legacy_chain_hash as chain_hash
    from app.audit.models import AuditEvent

    conn = op.get_bind()
    table = AuditEvent.__table__
    fields = ("at", "actor_token_id", "actor_name", "actor_role", "action", "object_type")
    columns = [table.c.id, *(table.c[f] for f in fields), table.c.object_id, table.c.detail]
    head = GENESIS
    for row in conn.execute(sa.select(*columns).order_by(table.c.id)).mappings().all():
        head = chain_hash(head, AuditEvent(**{k: v for k, v in row.items() if k != "id"}))
        conn.execute(sa.update(table).where(table.c.id == row["id"]).values(chain_hash=head))


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_hash", sa.String(length=64), nullable=True))
    if postgres:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    _chain_existing_events()
    if postgres:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
        op.execute(_TRUNCATE_TRIGGER)
        op.execute(_CHAIN_HEAD)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("chain_hash", existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_chain_head()")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("chain_hash")
