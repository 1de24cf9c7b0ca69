"""Summary tables of the sales statistics, kept up to date in the transaction that applies
each sale, return and redemption (services.statistics), so that dashboards never scan sales.

Four grains: per day, outlet and product for breakdowns by product and grade; per day and
outlet for an outlet's or a dealer's figures; per day and dealer for the totals and dealers
of the whole channel; per month and outlet for rankings over months."""

from datetime import date

from sqlalchemy import BigInteger, Index, text
from sqlmodel import Field, SQLModel


class _Counters(SQLModel):
    sold_count: int = Field(default=0)
    sold_fen: int = Field(default=0, sa_type=BigInteger)
    dealer_fen: int = Field(default=0, sa_type=BigInteger)
    returned_count: int = Field(default=0)
    returned_fen: int = Field(default=0, sa_type=BigInteger)
    returned_dealer_fen: int = Field(default=0, sa_type=BigInteger)
    redeemed_count: int = Field(default=0)
    redeemed_fen: int = Field(default=0, sa_type=BigInteger)


class SalesStatProduct(_Counters, table=True):
    __tablename__ = "stat_sales_product"
    __table_args__ = (
        Index("ix_stat_product_dealer", "dealer_id", "day"),
        Index("ix_stat_product_outlet", "outlet_id", "day"),
        # top-up cards' rows by day: the cards report reads these among all products' rows
        Index(
            "ix_stat_product_cards",
            "day",
            postgresql_where=text("grade_code = ''"),
            sqlite_where=text("grade_code = ''"),
        ),
    )

    day: date = Field(primary_key=True)
    outlet_id: str = Field(primary_key=True, max_length=36)
    product: str = Field(primary_key=True, max_length=32)
    dealer_id: str = Field(max_length=36)
    grade_code: str = Field(max_length=16)  # '' for top-up cards
    week: date
    month: date


class SalesStatOutlet(_Counters, table=True):
    __tablename__ = "stat_sales_outlet"
    __table_args__ = (
        Index("ix_stat_outlet_dealer", "dealer_id", "day"),
        Index("ix_stat_outlet_outlet", "outlet_id", "day"),
    )

    day: date = Field(primary_key=True)
    outlet_id: str = Field(primary_key=True, max_length=36)
    dealer_id: str = Field(max_length=36)
    week: date
    month: date


class SalesStatDealer(_Counters, table=True):
    """Per day and dealer: the sales centre's totals and breakdowns by dealer over long
    periods read one row per dealer-day instead of one per outlet-day."""

    __tablename__ = "stat_sales_dealer"
    __table_args__ = (Index("ix_stat_dealer_dealer", "dealer_id", "day"),)

    day: date = Field(primary_key=True)
    dealer_id: str = Field(primary_key=True, max_length=36)
    week: date
    month: date


class SalesStatOutletMonth(_Counters, table=True):
    """Per month and outlet: rankings over months read one row per outlet-month."""

    __tablename__ = "stat_sales_outlet_month"
    __table_args__ = (Index("ix_stat_outlet_month_dealer", "dealer_id", "month"),)

    month: date = Field(primary_key=True)
    outlet_id: str = Field(primary_key=True, max_length=36)
    dealer_id: str = Field(max_length=36)
