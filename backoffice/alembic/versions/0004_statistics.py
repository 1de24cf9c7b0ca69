"""Sales statistics: summary tables per day, outlet and product, and per day and outlet,
filled from the sales already recorded; and numbers' monthly billed revenue, which
revenue-share commission is paid from.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel import Session

from backoffice.models.types import UTCDateTime
from backoffice.services.statistics import summaries

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _counters() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("sold_count", sa.Integer(), nullable=False),
        sa.Column("sold_fen", sa.BigInteger(), nullable=False),
        sa.Column("dealer_fen", sa.BigInteger(), nullable=False),
        sa.Column("returned_count", sa.Integer(), nullable=False),
        sa.Column("returned_fen", sa.BigInteger(), nullable=False),
        sa.Column("returned_dealer_fen", sa.BigInteger(), nullable=False),
        sa.Column("redeemed_count", sa.Integer(), nullable=False),
        sa.Column("redeemed_fen", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "stat_sales_product",
        *_counters(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("outlet_id", sa.String(length=36), nullable=False),
        sa.Column("product", sa.String(length=32), nullable=False),
        sa.Column("dealer_id", sa.String(length=36), nullable=False),
        sa.Column("grade_code", sa.String(length=16), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("day", "outlet_id", "product"),
    )
    with op.batch_alter_table("stat_sales_product", schema=None) as batch_op:
        batch_op.create_index("ix_stat_product_dealer", ["dealer_id", "day"])
        batch_op.create_index("ix_stat_product_outlet", ["outlet_id", "day"])
    op.create_table(
        "stat_sales_outlet",
        *_counters(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("outlet_id", sa.String(length=36), nullable=False),
        sa.Column("dealer_id", sa.String(length=36), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("day", "outlet_id"),
    )
    with op.batch_alter_table("stat_sales_outlet", schema=None) as batch_op:
        batch_op.create_index("ix_stat_outlet_dealer", ["dealer_id", "day"])
        batch_op.create_index("ix_stat_outlet_outlet", ["outlet_id", "day"])
    if op.get_bind().dialect.name == "postgresql":
        # A dashboard reads a quarter's rows (tens of thousands) through the primary key in
        # milliseconds; from about a quarter of the table on, the planner would rather start
        # parallel workers to scan all of it, which costs two to three times as long on a
        # busy server (bench/bench_statistics.py).
        for table in ("stat_sales_product", "stat_sales_outlet"):
            op.execute(f"ALTER TABLE {table} SET (parallel_workers = 0)")
    op.create_table(
        "number_revenue",
        sa.Column("msisdn", sa.String(length=11), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("revenue_fen", sa.BigInteger(), nullable=False),
        sa.Column("reported_by", sa.String(length=96), nullable=False),
        sa.Column("reported_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("msisdn", "month"),
    )
    with op.batch_alter_table("number_revenue", schema=None) as batch_op:
        batch_op.create_index("ix_revenue_month", ["month"])
        batch_op.create_index("ix_revenue_reported", ["reported_at"])
    # Sales recorded before the summaries existed are counted once, here.
    summaries.rebuild(Session(bind=op.get_bind()), rollups=False)


def downgrade() -> None:
    op.drop_table("number_revenue")
    op.drop_table("stat_sales_outlet")
    op.drop_table("stat_sales_product")
