"""Each dealer's product range: which products and number grades it may sell. Dealers
without a row (every dealer before this revision) may sell everything.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backoffice.models.types import UTCDateTime

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dealer_product_range",
        sa.Column("dealer_id", sa.String(length=36), nullable=False),
        sa.Column("numbers", sa.Boolean(), nullable=False),
        sa.Column("sim_packs", sa.Boolean(), nullable=False),
        sa.Column("vouchers", sa.Boolean(), nullable=False),
        sa.Column("grades", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.String(length=96), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dealer_id"], ["dealer.id"]),
        sa.PrimaryKeyConstraint("dealer_id"),
    )


def downgrade() -> None:
    op.drop_table("dealer_product_range")
