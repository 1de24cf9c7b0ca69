"""Tables of the counter: sync events, sales and their lines, shifts and their cash by
month, cash movements, and the activation outbox."""

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Index, PrimaryKeyConstraint, text
from sqlmodel import Field, SQLModel

from backoffice.models.types import text_column, utc_column, utcnow


class SyncEvent(SQLModel, table=True):
    """Every event a terminal pushed, with the result it got the first time. Event ids are
    the terminal's own: keyed by terminal, so that one terminal can neither take nor answer
    for another's."""

    __tablename__ = "sync_event"
    __table_args__ = (
        PrimaryKeyConstraint("terminal_id", "id", name="pk_sync_event"),
        Index("ix_sync_event_terminal_seq", "terminal_id", "seq"),
        Index("ix_sync_event_queue", "result", "resolution"),
        Index("ix_sync_event_id", "id"),
        # The resolutions a terminal's pull brings it: its own, resolved since its cursor.
        Index("ix_sync_event_resolved", "terminal_id", "resolved_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    terminal_id: str = Field(primary_key=True, max_length=36)
    outlet_id: str = Field(max_length=36)
    dealer_id: str = Field(max_length=36)
    seq: int
    type: str = Field(max_length=16)
    occurred_at: datetime = Field(sa_column=utc_column())
    received_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    result: str = Field(max_length=16)  # accepted | rejected
    reason: str | None = Field(default=None, max_length=48)
    message: str | None = Field(default=None, sa_column=text_column(nullable=True))
    payload: str = Field(sa_column=text_column())
    # Rejected events, and accepted sales with an override approved offline (reason
    # `override_offline`), wait here until the sales centre resolves them.
    resolution: str | None = Field(default=None, max_length=16)  # open | resolved
    resolved_by: str | None = Field(default=None, max_length=96)
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    resolution_note: str | None = Field(default=None, max_length=255)
    # What the sales centre decided (services/counter/reconciliation.py): manual_sale (booked
    # as if accepted), refund (the counter refunds the buyer), write_off (a loss), or note.
    resolution_kind: str | None = Field(default=None, max_length=16)


class Sale(SQLModel, table=True):
    __tablename__ = "sale"
    __table_args__ = (
        Index("ix_sale_outlet_time", "outlet_id", "sold_at"),
        Index("ix_sale_customer_id_hash", "customer_id_hash"),
        # A dealer's sales by time: the windows a settlement run reads.
        Index("ix_sale_dealer_time", "dealer_id", "sold_at"),
        # A shift's sales: the cash its Z report should have held (services/settlement/shifts.py).
        Index("ix_sale_shift", "shift_id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    event_id: str = Field(max_length=36)
    receipt_no: str = Field(max_length=17, sa_column_kwargs={"unique": True})
    terminal_id: str = Field(max_length=36)
    outlet_id: str = Field(max_length=36)
    dealer_id: str = Field(max_length=36, index=True)
    clerk: str = Field(max_length=64)
    shift_id: str | None = Field(default=None, max_length=36)
    sold_at: datetime = Field(sa_column=utc_column())
    total_fen: int
    payments: str = Field(sa_column=text_column())
    # The buyer's real name (services/counter/real_name.py): only the masked forms are ever
    # shown; the ciphertexts (AES-GCM, own key each, the sale id bound in) are for the
    # provisioning system and audits; the keyed hash of the ID counts one person's numbers.
    customer_name_masked: str | None = Field(default=None, max_length=64)
    customer_name_cipher: str | None = Field(default=None, max_length=512)
    customer_id_masked: str | None = Field(default=None, max_length=18)
    customer_id_cipher: str | None = Field(default=None, max_length=128)
    customer_id_hash: str | None = Field(default=None, max_length=80)


class SaleLine(SQLModel, table=True):
    """One item of a sale. Database triggers (migration 0010) list each line's sale, and its
    return once returned_at is set, in settlement_pending until a settlement run books them."""

    __tablename__ = "sale_line"
    __table_args__ = (
        Index("ix_sale_line_item", "item_key"),
        # The few lines returned: a settlement run reads a period's returns by it.
        Index(
            "ix_sale_line_returned",
            "returned_at",
            postgresql_where=text("returned_at IS NOT NULL"),
            sqlite_where=text("returned_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    sale_id: str = Field(foreign_key="sale.id", max_length=36, index=True)
    item_kind: str = Field(max_length=16)  # number | voucher
    item_key: str = Field(max_length=20)
    product: str = Field(max_length=32)
    price_fen: int
    list_price_fen: int
    dealer_fen: int
    override_approved_by: str | None = Field(default=None, max_length=64)
    override_reason: str | None = Field(default=None, max_length=255)
    returned_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


# A closed shift short of cash (services/settlement/shifts.py SHORT).
SHORT_OF_CASH = "coalesce(counted_cash_fen, 0) < expected_cash_fen"


def _cash() -> Column:  # type: ignore[type-arg]
    return Column(BigInteger, nullable=False, server_default="0")


class Shift(SQLModel, table=True):
    """A terminal's shift; closed, its Z report. The cash figures are worked out when the
    shift closes and again whenever something changes its cash later
    (services/settlement/shifts.py record_cash); 0 while it is open."""

    __tablename__ = "shift"
    # The Z reports of a period, newest first, of everyone, a terminal's or a clerk's; and
    # the shifts short of cash (the largest shortages of part of a month, shifts page).
    __table_args__ = (
        Index("ix_shift_closed", "closed_at"),
        Index("ix_shift_terminal_closed", "terminal_id", "closed_at"),
        Index("ix_shift_clerk_closed", "clerk", "closed_at"),
        Index(
            "ix_shift_short",
            "closed_at",
            postgresql_where=text(SHORT_OF_CASH),
            sqlite_where=text(SHORT_OF_CASH),
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    terminal_id: str = Field(max_length=36)
    clerk: str = Field(max_length=64)
    opened_at: datetime = Field(sa_column=utc_column())
    opening_float_fen: int
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    counted_cash_fen: int | None = None
    z_number: int | None = None
    # Drawer openings without a sale in the shift, as its close event reports them.
    no_sale_openings: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    cash_sales_fen: int = Field(default=0, sa_column=_cash())
    cash_refunds_fen: int = Field(default=0, sa_column=_cash())
    cash_in_fen: int = Field(default=0, sa_column=_cash())
    cash_out_fen: int = Field(default=0, sa_column=_cash())
    # The float, plus cash sales and cash put in, minus cash refunds and cash taken out.
    expected_cash_fen: int = Field(default=0, sa_column=_cash())


class ShiftCashMonth(SQLModel, table=True):
    """The closed shifts' cash added up per China month they closed in, terminal and clerk
    (services/settlement/shifts.py roll_up_months, run with record_cash): the shifts page
    reads a period's whole months here and only the days of its partial months per shift."""

    __tablename__ = "shift_cash_month"

    month: date = Field(primary_key=True)
    terminal_id: str = Field(primary_key=True, max_length=36)
    clerk: str = Field(primary_key=True, max_length=64)
    shifts: int
    shifts_with_difference: int
    expected_cash_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    counted_cash_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    # Counted minus expected, added up; and the most negative of them, or 0.
    difference_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    largest_shortage_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    no_sale_openings: int


class CashMovement(SQLModel, table=True):
    __tablename__ = "cash_movement"

    id: str = Field(primary_key=True, max_length=36)
    shift_id: str = Field(foreign_key="shift.id", max_length=36, index=True)
    direction: str = Field(max_length=8)  # in | out
    amount_fen: int
    reason: str = Field(max_length=255)
    at: datetime = Field(sa_column=utc_column())


class ActivationOutbox(SQLModel, table=True):
    """Number activations waiting for the provisioning system to take them."""

    __tablename__ = "activation_outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: str = Field(primary_key=True, max_length=36)
    msisdn: str = Field(max_length=11)
    sale_id: str = Field(max_length=36)
    payload: str = Field(sa_column=text_column())
    status: str = Field(max_length=16)  # pending | delivered | failed | cancelled
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    next_attempt_at: datetime = Field(sa_column=utc_column())
    last_error: str | None = Field(default=None, max_length=255)
    delivered_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class PinLockout(SQLModel, table=True):
    """Wrong PINs given for a dealer manager's online approvals, and the lock-out they led to."""

    __tablename__ = "pin_lockout"

    user_id: str = Field(primary_key=True, max_length=36)
    failures: int = 0
    locked_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_failure_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
