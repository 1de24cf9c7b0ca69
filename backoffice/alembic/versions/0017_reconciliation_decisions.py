"""The reconciliation queue's decisions: what the sales centre decided for a queued event
(manual_sale, refund, write_off, note), and the index a terminal's pull reads its events'
resolutions by.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolution_kind", sa.String(length=16), nullable=True))
        batch_op.create_index("ix_sync_event_resolved", ["terminal_id", "resolved_at"])
    # Decisions taken before kinds existed were notes.
    op.execute(
        "UPDATE sync_event SET resolution_kind = 'note' "
        "WHERE resolution = 'resolved' AND resolution_kind IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("sync_event", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_event_resolved")
        batch_op.drop_column("resolution_kind")
