"""Settlement: the dealer account ledger (append-only), settlement profiles, commission
plans, number activation status from provisioning, and settlement statements. The dealer's
running `owed_fen` column goes: what a dealer owes is the sum of its (now append-only)
channel ledger.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backoffice.models.types import UTCDateTime

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY_TABLES = ("dealer_account_entry", "dealer_ledger_entry")
_APPEND_ONLY_SQLITE = """
CREATE TRIGGER {table}_no_{op} BEFORE {op} ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END
"""
_APPEND_ONLY_PG_FUNCTION = """
CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '{table} is append-only'; END $$
"""
_APPEND_ONLY_PG_TRIGGER = """
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()
"""


def _make_append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY_PG_FUNCTION.format(table=table))
        op.execute(_APPEND_ONLY_PG_TRIGGER.format(table=table))
    else:
        for statement in ("UPDATE", "DELETE"):
            op.execute(_APPEND_ONLY_SQLITE.format(table=table, op=statement))


def _drop_append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute(f"DROP FUNCTION {table}_append_only()")
    else:
        for statement in ("UPDATE", "DELETE"):
            op.execute(f"DROP TRIGGER {table}_no_{statement}")


def _money(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "dealer_account_entry",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dealer_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        _money("amount_fen"),
        _money("retail_fen"),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("source_key", sa.String(length=96), nullable=True),
        sa.Column("item_key", sa.String(length=20), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("approver", sa.String(length=96), nullable=False),
        sa.Column("actor", sa.String(length=96), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dealer_id"], ["dealer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dealer_account_entry", schema=None) as batch_op:
        batch_op.create_index("ix_account_dealer_booked", ["dealer_id", "booked_on"])
        batch_op.create_index("ix_account_source", ["source_key"])

    op.create_table(
        "settlement_profile",
        sa.Column("dealer_id", sa.String(length=36), nullable=False),
        sa.Column("cadence", sa.String(length=8), nullable=False),
        sa.Column("updated_by", sa.String(length=96), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dealer_id"], ["dealer.id"]),
        sa.PrimaryKeyConstraint("dealer_id"),
    )

    op.create_table(
        "commission_plan",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("dealer_id", sa.String(length=36), nullable=True),
        sa.Column("dealer_kind", sa.String(length=16), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dealer_id"], ["dealer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("commission_plan", schema=None) as batch_op:
        batch_op.create_index("ix_commission_plan_scope", ["dealer_id", "dealer_kind"])

    op.create_table(
        "number_activation",
        sa.Column("msisdn", sa.String(length=11), nullable=False),
        sa.Column("activated_on", sa.Date(), nullable=True),
        sa.Column("deactivated_on", sa.Date(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("msisdn"),
    )

    op.create_table(
        "settlement_statement",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("dealer_id", sa.String(length=36), nullable=False),
        sa.Column("cadence", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _money("retail_collected_fen"),
        _money("opening_fen"),
        _money("sales_fen"),
        _money("returns_fen"),
        _money("commission_fen"),
        _money("penalties_fen"),
        _money("payments_fen"),
        _money("deposits_fen"),
        _money("adjustments_fen"),
        _money("closing_fen"),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
        sa.Column("computed_by", sa.String(length=96), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=96), nullable=False),
        sa.ForeignKeyConstraint(["dealer_id"], ["dealer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dealer_id", "period_start"),
        sa.UniqueConstraint("number"),
    )
    with op.batch_alter_table("settlement_statement", schema=None) as batch_op:
        batch_op.create_index("ix_statement_period", ["period_start", "status"])

    for table in _APPEND_ONLY_TABLES:
        _make_append_only(table)
    with op.batch_alter_table("dealer", schema=None) as batch_op:
        batch_op.drop_column("owed_fen")


def downgrade() -> None:
    with op.batch_alter_table("dealer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("owed_fen", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE dealer SET owed_fen = (SELECT coalesce(sum(amount_fen), 0) "
        "FROM dealer_ledger_entry WHERE dealer_ledger_entry.dealer_id = dealer.id)"
    )
    for table in _APPEND_ONLY_TABLES:
        _drop_append_only(table)
    op.drop_table("settlement_statement")
    op.drop_table("number_activation")
    with op.batch_alter_table("commission_plan", schema=None) as batch_op:
        batch_op.drop_index("ix_commission_plan_scope")
    op.drop_table("commission_plan")
    op.drop_table("settlement_profile")
    with op.batch_alter_table("dealer_account_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_account_source")
        batch_op.drop_index("ix_account_dealer_booked")
    op.drop_table("dealer_account_entry")
