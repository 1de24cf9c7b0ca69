"""A shift's sales by index: the Z reports and the shifts page add up each shift's cash sales
(without it, a read of every sale).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_sale_shift", "sale", ["shift_id"])


def downgrade() -> None:
    op.drop_index("ix_sale_shift", table_name="sale")
