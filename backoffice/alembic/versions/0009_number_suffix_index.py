"""Suffix searches by index on both databases: the number's last three digits indexed with
the number (ix_number_tail), the reversed number checked on every existing row, statistics.

- ix_number_tail on (substr(msisdn, 9, 3), msisdn): the numbers of one ending in number
  order, so a search by three or more final digits reads its first page in order and stops
  at the page's end (the reversed-number index finds the matches but not in number order:
  a planner sorts them all, or walks the whole table in number order instead);
- msisdn_rev rewritten from msisdn wherever it differs (the ranges on ix_number_rev rely on
  it), spelled with substr on both databases (SQLite has no reverse());
- ANALYZE mobile_number, so that the planner knows the new index's spread at once.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As of this revision: models/billing.py's NUMBER_TAIL, and msisdn's 11 digits backwards.
_TAIL = "substr(msisdn, 9, 3)"
_REVERSED = " || ".join(f"substr(msisdn, {i}, 1)" for i in range(11, 0, -1))


def upgrade() -> None:
    op.execute(f"UPDATE mobile_number SET msisdn_rev = {_REVERSED} WHERE msisdn_rev <> {_REVERSED}")
    op.create_index("ix_number_tail", "mobile_number", [sa.text(_TAIL), "msisdn"], unique=False)
    op.execute("ANALYZE mobile_number")


def downgrade() -> None:
    op.drop_index("ix_number_tail", table_name="mobile_number")
