"""Event ids per terminal; caps on price overrides and the lock-out of online approvals.

- `sync_event` is keyed by (terminal_id, id): an event id one terminal used neither blocks
  nor answers for another's. (Receipt numbers carry their terminal's number and the back
  office refuses another terminal's, so `sale.receipt_no` stays unique as it is.)
- `price_list` gets the default caps on price overrides (existing lists: 20 % below the list,
  nothing above it, ¥20 either way when approved offline); `dealer_override_cap` holds a
  dealer's own caps.
- `pin_lockout` counts wrong PINs given for online override approvals.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import SAWarning

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CAPS = ("max_discount_fen", "max_discount_percent", "max_markup_fen", "offline_max_fen")


def _event_key(columns: list[str], name: str) -> None:
    """Replaces the primary key of sync_event. SQLite cannot alter one: the table is copied
    (nothing refers to it by foreign key, so the copy is safe with foreign keys on)."""
    if op.get_bind().dialect.name == "sqlite":
        # The copy's columns keep their reflected primary-key flags, of which SQLAlchemy warns
        # while it takes the new constraint's (checked by the schema test).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Table '_alembic_tmp_sync_event'", SAWarning)
            with op.batch_alter_table("sync_event", recreate="always") as batch:
                batch.create_primary_key(name, columns)
        return
    current = sa.inspect(op.get_bind()).get_pk_constraint("sync_event")["name"]
    op.drop_constraint(current, "sync_event", type_="primary")
    op.create_primary_key(name, "sync_event", columns)


def _cap_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("max_discount_fen", sa.Integer(), nullable=True),
        sa.Column("max_discount_percent", sa.Integer(), nullable=True),
        sa.Column("max_markup_fen", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("offline_max_fen", sa.Integer(), nullable=False, server_default="0"),
    ]


def upgrade() -> None:
    _event_key(["terminal_id", "id"], "pk_sync_event")
    op.create_index("ix_sync_event_id", "sync_event", ["id"])

    # Added one by one: SQLite adds a column in place, where a batch would copy price_list,
    # which price_list_item refers to.
    for column in _cap_columns():
        op.add_column("price_list", column)
    op.execute(
        "UPDATE price_list SET max_discount_percent = 20, max_markup_fen = 0, "
        "offline_max_fen = 2000"
    )
    op.create_table(
        "dealer_override_cap",
        sa.Column("dealer_id", sa.String(length=36), nullable=False),
        *_cap_columns(),
        sa.Column("set_by", sa.String(length=96), nullable=False),
        sa.Column("set_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dealer_id"], ["dealer.id"]),
        sa.PrimaryKeyConstraint("dealer_id"),
    )
    op.create_table(
        "pin_lockout",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    """Fails, rather than lose events, if two terminals have used one event id."""
    op.drop_table("pin_lockout")
    op.drop_table("dealer_override_cap")
    for name in reversed(_CAPS):
        op.drop_column("price_list", name)
    op.drop_index("ix_sync_event_id", table_name="sync_event")
    _event_key(["id"], "sync_event_pkey")
