"""Tables of dealer settlement: the dealer account ledger, commission plans, settlement
profiles, number activation status from provisioning, and settlement statements."""

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from backoffice.models.types import utc_column, utcnow


class DealerAccountEntry(SQLModel, table=True):
    """One movement on a dealer's account; the balance is the sum of the rows (append-only,
    enforced by triggers). Positive amounts raise what the dealer owes the operator."""

    __tablename__ = "dealer_account_entry"
    __table_args__ = (
        Index("ix_account_dealer_booked", "dealer_id", "booked_on"),
        # Revenue share is looked up by key (number and month) across dealers; every other
        # entry by dealer and day (migration 0013).
        Index(
            "ix_account_revenue_share",
            "source_key",
            postgresql_where=text("source_key LIKE 'revshare:%'"),
            sqlite_where=text("source_key LIKE 'revshare:%'"),
        ),
        # The few entries booked after their own day, which a run reads by booking day.
        Index(
            "ix_account_late",
            "booked_on",
            postgresql_where=text("late"),
            sqlite_where=text("late"),
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    dealer_id: str = Field(foreign_key="dealer.id", max_length=36)
    kind: str = Field(max_length=16)  # backoffice.domain.settlement.accounts.LedgerKind
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    # What the customer paid for a sale or got back for a return; not part of the balance.
    retail_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    occurred_on: date
    # The day whose settlement period holds the entry; later than occurred_on when the
    # entry arrived after that period was closed (then `late` is true).
    booked_on: date
    late: bool = False
    # What the entry is for, so that a run books each sale, return or commission once:
    # sale:<line>, return:<line>, commission:<hash>, revshare:<number>:<month>.
    source_key: str | None = Field(default=None, max_length=96)
    item_key: str | None = Field(default=None, max_length=20)
    description: str = Field(default="", max_length=255)
    reason: str = Field(default="", max_length=1000)  # adjustment reason or penalty evidence
    approver: str = Field(default="", max_length=96)
    actor: str = Field(max_length=96)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class SettlementPending(SQLModel, table=True):
    """A sale line's sale (kind `sale`) or return (kind `return`) that no settlement run has
    booked yet. Database triggers on sale_line add the rows (a line inserted, a line's
    returned_at set); the run that books one, or finds it books nothing (a zero-priced
    line), removes it. A run reads only these, never the sales it has booked before."""

    __tablename__ = "settlement_pending"

    line_id: int = Field(primary_key=True)
    kind: str = Field(primary_key=True, max_length=8)  # LedgerKind.sale | sale_return


class SettlementVersion(SQLModel, table=True):
    """How often what a dealer's statements are computed from has changed: every entry
    booked or posted on its account and every activation report of a number it sold adds
    one (a dealer without a row is at 0). A statement keeps the version it was computed at
    (`SettlementStatement.basis`), so that a rerun knows which drafts cannot have moved."""

    __tablename__ = "settlement_version"

    dealer_id: str = Field(primary_key=True, foreign_key="dealer.id", max_length=36)
    version: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class SettlementProfile(SQLModel, table=True):
    """How often a dealer is settled; dealers without a row settle monthly."""

    __tablename__ = "settlement_profile"

    dealer_id: str = Field(primary_key=True, foreign_key="dealer.id", max_length=36)
    cadence: str = Field(max_length=8)  # day | week | month
    updated_by: str = Field(max_length=96)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class CommissionPlanRow(SQLModel, table=True):
    """An effective-dated commission plan for one dealer or for every dealer of a kind; the
    rules are the JSON of backoffice.contracts.settlement.CommissionRules."""

    __tablename__ = "commission_plan"
    __table_args__ = (
        UniqueConstraint("code"),
        Index("ix_commission_plan_scope", "dealer_id", "dealer_kind"),
    )

    id: str = Field(primary_key=True, max_length=36)
    code: str = Field(max_length=32)
    dealer_id: str | None = Field(default=None, foreign_key="dealer.id", max_length=36)
    dealer_kind: str | None = Field(default=None, max_length=16)
    effective_from: date
    effective_to: date | None = None
    rules: str = Field(sa_column=Column(Text, nullable=False))
    created_by: str = Field(max_length=96)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class NumberActivation(SQLModel, table=True):
    """What the provisioning system last said of a number: when it went live and when (if)
    it was switched off."""

    __tablename__ = "number_activation"

    msisdn: str = Field(primary_key=True, max_length=11)
    activated_on: date | None = None
    deactivated_on: date | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class NumberRevenue(SQLModel, table=True):
    """A number's billed revenue for a calendar month (`month` is its first day), as the
    billing system reported it last; revenue-share commission is paid from it."""

    __tablename__ = "number_revenue"
    __table_args__ = (
        Index("ix_revenue_month", "month"),
        Index("ix_revenue_reported", "reported_at"),
    )

    msisdn: str = Field(primary_key=True, max_length=11)
    month: date = Field(primary_key=True)
    revenue_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    reported_by: str = Field(max_length=96)
    reported_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class SettlementStatement(SQLModel, table=True):
    """A dealer's statement for one settlement period, with its totals as last computed."""

    __tablename__ = "settlement_statement"
    __table_args__ = (
        UniqueConstraint("dealer_id", "period_start"),
        Index("ix_statement_period", "period_start", "status"),
    )

    id: str = Field(primary_key=True, max_length=36)
    number: str = Field(max_length=32, sa_column_kwargs={"unique": True})
    dealer_id: str = Field(foreign_key="dealer.id", max_length=36)
    cadence: str = Field(max_length=8)
    period_start: date
    period_end: date
    status: str = Field(max_length=16)  # draft | confirmed | paid | disputed
    retail_collected_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    opening_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    sales_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    returns_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    commission_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    penalties_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    payments_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    deposits_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    adjustments_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    closing_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    line_count: int = 0
    # What the figures were computed from: the dealer's settlement version, its commission
    # plans and its closed periods (runs.py); None before the first run that records it.
    basis: str | None = Field(default=None, max_length=96)
    comment: str = Field(default="", max_length=1000)
    computed_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    computed_by: str = Field(max_length=96)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_by: str = Field(max_length=96)
