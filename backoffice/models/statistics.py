"""Summary tables of the sales statistics, kept up to date in the transaction that applies
each sale, return and redemption (services.statistics), so that dashboards never scan sales.

Two grains: per day, outlet and product for breakdowns by product and grade, and per day and
outlet for totals, rankings and the dashboard, which read a few rows per outlet-day."""

from datetime import date

from sqlalchemy import BigInteger, Index
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
