"""a purged request keeps no case reference: placement_requests.reference nullable

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("placement_requests", schema=None) as batch_op:
        batch_op.alter_column("reference", existing_type=sa.String(length=100), nullable=True)


def downgrade() -> None:
    # A purged request gets a neutral reference back: the original is gone.
    op.execute("UPDATE placement_requests SET reference = 'purged' WHERE reference IS NULL")
    with op.batch_alter_table("placement_requests", schema=None) as batch_op:
        batch_op.alter_column("reference", existing_type=sa.String(length=100), nullable=False)
