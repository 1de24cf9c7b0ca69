"""Each shift's cash figures stored on it (cash sales, cash refunds, cash in, cash out, the
cash expected) and added up per China month, terminal and clerk (shift_cash_month), worked
out for the shifts already closed; shifts by the time they closed, of a terminal or a clerk,
and those short of cash. The Z reports and the shifts page read these instead of every sale
of the period.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel import Session

from backoffice.services.settlement import shifts

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("cash_sales_fen", "cash_refunds_fen", "cash_in_fen", "cash_out_fen", "expected_cash_fen")
# A closed shift short of cash (models.counter.SHORT_OF_CASH).
_SHORT = "coalesce(counted_cash_fen, 0) < expected_cash_fen"
# Terminals whose closed shifts are worked out together: a terminal's shifts in one part keep
# the returns read for them to that terminal's.
TERMINALS_AT_ONCE = 50


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("shift", sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_shift_closed", "shift", ["closed_at"])
    op.create_index("ix_shift_terminal_closed", "shift", ["terminal_id", "closed_at"])
    op.create_index("ix_shift_clerk_closed", "shift", ["clerk", "closed_at"])
    op.create_index(
        "ix_shift_short",
        "shift",
        ["closed_at"],
        postgresql_where=sa.text(_SHORT),
        sqlite_where=sa.text(_SHORT),
    )
    op.drop_index("ix_shift_terminal_id", table_name="shift")
    if op.get_bind().dialect.name == "postgresql":
        # A clerk works at one outlet or a few: without knowing it, the planner takes a
        # period's shifts per terminal and clerk for nearly as many groups as shifts and sorts
        # them all on disk instead of hashing a few thousand groups (the shifts page).
        op.execute(
            "CREATE STATISTICS shift_terminal_clerk (ndistinct) ON terminal_id, clerk FROM shift"
        )
    op.create_table(
        "shift_cash_month",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("terminal_id", sa.String(length=36), nullable=False),
        sa.Column("clerk", sa.String(length=64), nullable=False),
        sa.Column("shifts", sa.Integer(), nullable=False),
        sa.Column("shifts_with_difference", sa.Integer(), nullable=False),
        sa.Column("expected_cash_fen", sa.BigInteger(), nullable=False),
        sa.Column("counted_cash_fen", sa.BigInteger(), nullable=False),
        sa.Column("difference_fen", sa.BigInteger(), nullable=False),
        sa.Column("largest_shortage_fen", sa.BigInteger(), nullable=False),
        sa.Column("no_sale_openings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "terminal_id", "clerk"),
    )
    connection = op.get_bind()
    terminals = (
        connection.execute(
            sa.text(
                "SELECT DISTINCT terminal_id FROM shift WHERE closed_at IS NOT NULL"
                " ORDER BY terminal_id"
            )
        )
        .scalars()
        .all()
    )
    # The figures of each closed shift, and their months' sums, as its close stores them now.
    session = Session(bind=connection)
    for part in range(0, len(terminals), TERMINALS_AT_ONCE):
        ids = (
            connection.execute(
                sa.text(
                    "SELECT id FROM shift WHERE closed_at IS NOT NULL"
                    " AND terminal_id IN :terminals ORDER BY terminal_id, opened_at"
                ).bindparams(sa.bindparam("terminals", expanding=True)),
                {"terminals": terminals[part : part + TERMINALS_AT_ONCE]},
            )
            .scalars()
            .all()
        )
        shifts.record_cash(session, ids)


def downgrade() -> None:
    op.drop_table("shift_cash_month")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS shift_terminal_clerk")
    op.create_index("ix_shift_terminal_id", "shift", ["terminal_id"])
    for name in (
        "ix_shift_short",
        "ix_shift_clerk_closed",
        "ix_shift_terminal_closed",
        "ix_shift_closed",
    ):
        op.drop_index(name, table_name="shift")
    # Plain ALTER TABLE on both databases (SQLite drops columns since 3.35): recreating the
    # table in batch mode would break the cash movements' foreign key to it.
    for name in COLUMNS:
        op.execute(f"ALTER TABLE shift DROP COLUMN {name}")
