"""Settlement booking in SQL.

A settlement run books a period's sales, returns and commission with INSERT … SELECT
statements, so that no sale line travels to Python and back:

- the database computes each commission line's source key itself: the SHA-1 that earlier
  runs computed in Python (`commission:` and 32 hex digits of it), unchanged, so that what
  they booked is recognised. PostgreSQL has SHA-1 from pgcrypto (a trusted extension since
  PostgreSQL 13: the tables' owner may create it); SQLite gets the function from the
  application on each connection that runs a settlement;
- ix_account_source on every entry's source key becomes ix_account_revenue_share, on the
  revenue share's keys only: those are the only keys looked up across dealers (by number and
  month); sales, returns and commission are found by dealer and day (ix_account_dealer_booked)
  and booked once through settlement_pending and the period's own entries. A month's run no
  longer adds half a million keys to an index nothing reads them by.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REVENUE_SHARE = "source_key LIKE 'revshare:%'"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
    op.create_index(
        "ix_account_revenue_share",
        "dealer_account_entry",
        ["source_key"],
        postgresql_where=sa.text(_REVENUE_SHARE),
        sqlite_where=sa.text(_REVENUE_SHARE),
    )
    op.drop_index("ix_account_source", table_name="dealer_account_entry")


def downgrade() -> None:
    op.create_index("ix_account_source", "dealer_account_entry", ["source_key"])
    op.drop_index("ix_account_revenue_share", table_name="dealer_account_entry")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP EXTENSION IF EXISTS pgcrypto")
