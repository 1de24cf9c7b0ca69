"""Dealer channel: dealers, outlets, terminals, price lists, reservations, sync events,
sales, shifts and the activation outbox; stock ownership on numbers and cards.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from backoffice.domain.channel import default_prices

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Version 1 of the price list; its id is fixed so that a fresh database is reproducible.
_FIRST_PRICE_LIST_ID = "01900000-0000-7000-8000-000000000001"


def _seed_price_list() -> None:
    price_list = sa.table(
        "price_list",
        sa.column("id"),
        sa.column("version"),
        sa.column("effective_from", sa.DateTime()),
        sa.column("created_by"),
        sa.column("created_at", sa.DateTime()),
        sa.column("note"),
    )
    start = datetime(2020, 1, 1)  # naive UTC, as the timestamp columns store it
    op.execute(
        price_list.insert().values(
            id=_FIRST_PRICE_LIST_ID,
            version=1,
            effective_from=start,
            created_by="migration",
            created_at=start,
            note="default prices",
        )
    )
    items = sa.table(
        "price_list_item",
        sa.column("price_list_id"),
        sa.column("product"),
        sa.column("retail_fen"),
        sa.column("dealer_fen"),
    )
    op.bulk_insert(
        items,
        [
            {
                "price_list_id": _FIRST_PRICE_LIST_ID,
                "product": p.product,
                "retail_fen": p.retail_fen,
                "dealer_fen": p.dealer_fen,
            }
            for p in default_prices()
        ],
    )


def upgrade() -> None:
    op.create_table(
        "activation_outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("msisdn", sa.String(length=11), nullable=False),
        sa.Column("sale_id", sa.String(length=36), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("activation_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "dealer",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("credit_limit_fen", sa.BigInteger(), nullable=False),
        sa.Column("owed_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "number_reservation",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("msisdn", sa.String(length=11), nullable=False),
        sa.Column("outlet_id", sa.String(length=36), nullable=False),
        sa.Column("terminal_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("held_from", sa.String(length=16), nullable=False),
        sa.Column("reserved_by", sa.String(length=96), nullable=False),
        sa.Column("reserved_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("number_reservation", schema=None) as batch_op:
        batch_op.create_index("ix_reservation_msisdn", ["msisdn"], unique=False)
        batch_op.create_index(
            "ix_reservation_status_expiry", ["status", "expires_at"], unique=False
        )

    op.create_table(
        "price_list",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version"),
    )
    op.create_table(
        "reservation_quota",
        sa.Column("outlet_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("outlet_id", "day"),
    )
    op.create_table(
        "sale",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("receipt_no", sa.String(length=17), nullable=False),
        sa.Column("terminal_id", sa.String(length=36), nullable=False),
        sa.Column("outlet_id", sa.String(length=36), nullable=False),
        sa.Column("dealer_id", sa.String(length=36), nullable=False),
        sa.Column("clerk", sa.String(length=64), nullable=False),
        sa.Column("shift_id", sa.String(length=36), nullable=True),
        sa.Column("sold_at", sa.DateTime(), nullable=False),
        sa.Column("total_fen", sa.Integer(), nullable=False),
        sa.Column("payments", sa.Text(), nullable=False),
        sa.Column("customer_name", sa.String(length=64), nullable=True),
        sa.Column("customer_id_masked", sa.String(length=18), nullable=True),
        sa.Column("customer_id_cipher", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("receipt_no"),
    )
    with op.batch_alter_table("sale", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sale_dealer_id"), ["dealer_id"], unique=False)
        batch_op.create_index("ix_sale_outlet_time", ["outlet_id", "sold_at"], unique=False)

    op.create_table(
        "shift",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("terminal_id", sa.String(length=36), nullable=False),
        sa.Column("clerk", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("opening_float_fen", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("counted_cash_fen", sa.Integer(), nullable=True),
        sa.Column("z_number", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("shift", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shift_terminal_id"), ["terminal_id"], unique=False)

    op.create_table(
        "sync_event",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("terminal_id", sa.String(length=36), nullable=False),
        sa.Column("outlet_id", sa.String(length=36), nullable=False),
        sa.Column("dealer_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=48), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("resolved_by", sa.String(length=96), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolution_note", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sync_event", schema=None) as batch_op:
        batch_op.create_index("ix_sync_event_queue", ["result", "resolution"], unique=False)
        batch_op.create_index("ix_sync_event_terminal_seq", ["terminal_id", "seq"], unique=False)

    op.create_table(
        "cash_movement",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("shift_id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shift_id"],
            ["shift.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cash_movement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cash_movement_shift_id"), ["shift_id"], unique=False)

    op.create_table(
        "dealer_ledger_entry",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dealer_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=True),
        sa.Column("actor", sa.String(length=96), nullable=False),
        sa.Column("note", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["dealer_id"],
            ["dealer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dealer_ledger_entry", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_dealer", ["dealer_id", "at"], unique=False)

    op.create_table(
        "dealer_price",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dealer_id", sa.String(length=36), nullable=False),
        sa.Column("product", sa.String(length=32), nullable=False),
        sa.Column("retail_fen", sa.Integer(), nullable=False),
        sa.Column("dealer_fen", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dealer_id"],
            ["dealer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dealer_id", "product"),
    )
    op.create_table(
        "document_discrepancy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("outlet_id", sa.String(length=36), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column("item_key", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.String(length=32), nullable=True),
        sa.Column("resolved_by", sa.String(length=96), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["stock_document.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("document_discrepancy", schema=None) as batch_op:
        batch_op.create_index("ix_discrepancy_status", ["status", "document_id"], unique=False)

    op.create_table(
        "outlet",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dealer_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("reservation_quota", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dealer_id"],
            ["dealer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("outlet", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outlet_dealer_id"), ["dealer_id"], unique=False)

    op.create_table(
        "price_list_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("price_list_id", sa.String(length=36), nullable=False),
        sa.Column("product", sa.String(length=32), nullable=False),
        sa.Column("retail_fen", sa.Integer(), nullable=False),
        sa.Column("dealer_fen", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["price_list_id"],
            ["price_list.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("price_list_id", "product"),
    )
    op.create_table(
        "sale_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sale_id", sa.String(length=36), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column("item_key", sa.String(length=20), nullable=False),
        sa.Column("product", sa.String(length=32), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("list_price_fen", sa.Integer(), nullable=False),
        sa.Column("dealer_fen", sa.Integer(), nullable=False),
        sa.Column("override_approved_by", sa.String(length=64), nullable=True),
        sa.Column("override_reason", sa.String(length=255), nullable=True),
        sa.Column("returned_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["sale.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sale_line", schema=None) as batch_op:
        batch_op.create_index("ix_sale_line_item", ["item_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_sale_line_sale_id"), ["sale_id"], unique=False)

    op.create_table(
        "terminal",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("terminal_no", sa.Integer(), nullable=False),
        sa.Column("outlet_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("credential_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("registered_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_push_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["outlet_id"],
            ["outlet.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("terminal_no"),
    )
    with op.batch_alter_table("terminal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_terminal_outlet_id"), ["outlet_id"], unique=False)

    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dealer_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("outlet_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("pin_hash", sa.String(length=256), nullable=True))

    with op.batch_alter_table("mobile_number", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outlet_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("prev_outlet_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("document_id", sa.String(length=36), nullable=True))
        batch_op.create_index("ix_number_document", ["document_id"], unique=False)
        batch_op.create_index("ix_number_outlet", ["outlet_id", "status"], unique=False)

    with op.batch_alter_table("sim_card", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outlet_id", sa.String(length=36), nullable=True))

    with op.batch_alter_table("stock_document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outlet_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("from_outlet_id", sa.String(length=36), nullable=True))

    with op.batch_alter_table("voucher", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outlet_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("prev_outlet_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("document_id", sa.String(length=36), nullable=True))
        batch_op.create_index("ix_voucher_document", ["document_id"], unique=False)
        batch_op.create_index("ix_voucher_outlet", ["outlet_id", "status"], unique=False)
    _seed_price_list()


def downgrade() -> None:
    with op.batch_alter_table("voucher", schema=None) as batch_op:
        batch_op.drop_index("ix_voucher_outlet")
        batch_op.drop_index("ix_voucher_document")
        batch_op.drop_column("document_id")
        batch_op.drop_column("prev_outlet_id")
        batch_op.drop_column("outlet_id")

    with op.batch_alter_table("sim_card", schema=None) as batch_op:
        batch_op.drop_column("outlet_id")

    with op.batch_alter_table("stock_document", schema=None) as batch_op:
        batch_op.drop_column("from_outlet_id")
        batch_op.drop_column("outlet_id")

    with op.batch_alter_table("mobile_number", schema=None) as batch_op:
        batch_op.drop_index("ix_number_outlet")
        batch_op.drop_index("ix_number_document")
        batch_op.drop_column("document_id")
        batch_op.drop_column("prev_outlet_id")
        batch_op.drop_column("outlet_id")

    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("pin_hash")
        batch_op.drop_column("outlet_id")
        batch_op.drop_column("dealer_id")

    with op.batch_alter_table("terminal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_terminal_outlet_id"))

    op.drop_table("terminal")
    with op.batch_alter_table("sale_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sale_line_sale_id"))
        batch_op.drop_index("ix_sale_line_item")

    op.drop_table("sale_line")
    op.drop_table("price_list_item")
    with op.batch_alter_table("outlet", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outlet_dealer_id"))

    op.drop_table("outlet")
    with op.batch_alter_table("document_discrepancy", schema=None) as batch_op:
        batch_op.drop_index("ix_discrepancy_status")

    op.drop_table("document_discrepancy")
    op.drop_table("dealer_price")
    with op.batch_alter_table("dealer_ledger_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_dealer")

    op.drop_table("dealer_ledger_entry")
    with op.batch_alter_table("cash_movement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cash_movement_shift_id"))

    op.drop_table("cash_movement")
    with op.batch_alter_table("sync_event", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_event_terminal_seq")
        batch_op.drop_index("ix_sync_event_queue")

    op.drop_table("sync_event")
    with op.batch_alter_table("shift", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shift_terminal_id"))

    op.drop_table("shift")
    with op.batch_alter_table("sale", schema=None) as batch_op:
        batch_op.drop_index("ix_sale_outlet_time")
        batch_op.drop_index(batch_op.f("ix_sale_dealer_id"))

    op.drop_table("sale")
    op.drop_table("reservation_quota")
    op.drop_table("price_list")
    with op.batch_alter_table("number_reservation", schema=None) as batch_op:
        batch_op.drop_index("ix_reservation_status_expiry")
        batch_op.drop_index("ix_reservation_msisdn")

    op.drop_table("number_reservation")
    op.drop_table("dealer")
    with op.batch_alter_table("activation_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("activation_outbox")
