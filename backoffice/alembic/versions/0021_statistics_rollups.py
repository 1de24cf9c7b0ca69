"""Sales summaries per day and dealer and per month and outlet, added up from the summary
per day and outlet; an index of the top-up cards' rows of the summary per product, and one
of the numbers by status and stock document (the outlets' stock by age, all outlets at once).

The sales centre's pages read a period's totals, dealers and rankings from them (one row per
dealer-day or outlet-month instead of one per outlet-day).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel import Session

from backoffice.services.statistics import summaries

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _counters() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(name, sa.BigInteger() if name.endswith("_fen") else sa.Integer(), nullable=False)
        for name in (
            "sold_count",
            "sold_fen",
            "dealer_fen",
            "returned_count",
            "returned_fen",
            "returned_dealer_fen",
            "redeemed_count",
            "redeemed_fen",
        )
    ]


def upgrade() -> None:
    op.create_table(
        "stat_sales_dealer",
        *_counters(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dealer_id", sa.String(length=36), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("day", "dealer_id"),
    )
    op.create_index("ix_stat_dealer_dealer", "stat_sales_dealer", ["dealer_id", "day"])
    op.create_table(
        "stat_sales_outlet_month",
        *_counters(),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("outlet_id", sa.String(length=36), nullable=False),
        sa.Column("dealer_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("month", "outlet_id"),
    )
    op.create_index(
        "ix_stat_outlet_month_dealer", "stat_sales_outlet_month", ["dealer_id", "month"]
    )
    op.create_index(
        "ix_stat_product_cards",
        "stat_sales_product",
        ["day"],
        postgresql_where=sa.text("grade_code = ''"),
        sqlite_where=sa.text("grade_code = ''"),
    )
    op.create_index("ix_number_stock_age", "mobile_number", ["status", "document_id"])
    if op.get_bind().dialect.name == "postgresql":
        # as for the other summaries (0004): a period's rows by index, no parallel scan
        for table in ("stat_sales_dealer", "stat_sales_outlet_month"):
            op.execute(f"ALTER TABLE {table} SET (parallel_workers = 0)")
    summaries.rebuild_rollups(Session(bind=op.get_bind()))


def downgrade() -> None:
    op.drop_index("ix_number_stock_age", table_name="mobile_number")
    op.drop_index("ix_stat_product_cards", table_name="stat_sales_product")
    op.drop_index("ix_stat_outlet_month_dealer", table_name="stat_sales_outlet_month")
    op.drop_table("stat_sales_outlet_month")
    op.drop_index("ix_stat_dealer_dealer", table_name="stat_sales_dealer")
    op.drop_table("stat_sales_dealer")
