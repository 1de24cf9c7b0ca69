"""Number recycling and card expiry (lifecycle services).

- mobile_number.cooling_until: when a deactivated number's cooling ends and the worker returns
  it to the pool; set only while it cools, so its index (ix_number_cooling) is partial and
  holds the cooling numbers only;
- ix_voucher_batch_status on (batch_id, status) in place of ix_voucher_batch (batch_id): the
  expiry step reads the active cards of an expired batch, not all its cards, and the lookups
  by batch use the new index's first column as they used the old one.

Columns are added and dropped with plain ALTER TABLE on both databases (SQLite has dropped
columns since 3.35): recreating mobile_number in batch mode would lose its expression index.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backoffice.models.types import UTCDateTime

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COOLING = "cooling_until IS NOT NULL"


def upgrade() -> None:
    op.add_column("mobile_number", sa.Column("cooling_until", UTCDateTime(), nullable=True))
    op.create_index(
        "ix_number_cooling",
        "mobile_number",
        ["cooling_until"],
        unique=False,
        postgresql_where=sa.text(_COOLING),
        sqlite_where=sa.text(_COOLING),
    )
    op.create_index("ix_voucher_batch_status", "voucher", ["batch_id", "status"], unique=False)
    op.drop_index("ix_voucher_batch", table_name="voucher")


def downgrade() -> None:
    op.create_index("ix_voucher_batch", "voucher", ["batch_id"], unique=False)
    op.drop_index("ix_voucher_batch_status", table_name="voucher")
    op.drop_index("ix_number_cooling", table_name="mobile_number")
    op.execute("ALTER TABLE mobile_number DROP COLUMN cooling_until")
