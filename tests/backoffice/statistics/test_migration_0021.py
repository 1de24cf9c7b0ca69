"""Migration 0021 on a database with sales summaries: the dealer-day and outlet-month grains
are added up from the outlet-day one, the cards' index appears, and the downgrade takes them
away again, keeping the outlet-day rows."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from backoffice import migrate
from backoffice.db import make_engine
from backoffice.domain.calendar import month_of, week_of
from tests.conftest import BACKENDS, Templates, alembic_step

# (day, outlet, dealer, sold_count, sold_fen, returned_count)
OUTLET_DAYS = [
    (date(2026, 6, 30), "o1", "d1", 2, 20_000, 0),
    (date(2026, 6, 30), "o2", "d1", 1, 5_000, 1),
    (date(2026, 7, 1), "o1", "d1", 3, 30_000, 0),
    (date(2026, 7, 1), "o3", "d2", 4, 10_000, 2),
    (date(2026, 7, 31), "o1", "d1", 1, 9_900, 0),
]


@pytest.fixture(params=BACKENDS)
def old_engine(
    request: pytest.FixtureRequest, templates: Templates, tmp_path: Path
) -> Iterator[Engine]:
    """A database at revision 0020 whose outlet-day summary holds OUTLET_DAYS."""
    url = templates.empty(request.param, tmp_path)
    migrate.upgrade(url, "0020")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO stat_sales_outlet (day, outlet_id, dealer_id, week, month,"
                " sold_count, sold_fen, dealer_fen, returned_count, returned_fen,"
                " returned_dealer_fen, redeemed_count, redeemed_fen) VALUES (:day, :outlet,"
                " :dealer, :week, :month, :sold, :fen, :fen - 100, :back, :back * 1000,"
                " :back * 900, 0, 0)"
            ),
            [
                {
                    "day": day,
                    "outlet": outlet,
                    "dealer": dealer,
                    "week": week_of(day),
                    "month": month_of(day),
                    "sold": sold,
                    "fen": fen,
                    "back": back,
                }
                for day, outlet, dealer, sold, fen, back in OUTLET_DAYS
            ],
        )
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        templates.drop(url)


def _rows(engine: Engine, query: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query))]


def test_the_rollups_are_added_up_from_the_outlet_days(old_engine: Engine) -> None:
    alembic_step(old_engine, "upgrade", "0021")
    dealer_days = _rows(
        old_engine,
        "SELECT CAST(day AS TEXT), dealer_id, CAST(month AS TEXT), sold_count, sold_fen,"
        " dealer_fen, returned_count, returned_dealer_fen FROM stat_sales_dealer"
        " ORDER BY day, dealer_id",
    )
    assert dealer_days == [
        ("2026-06-30", "d1", "2026-06-01", 3, 25_000, 24_800, 1, 900),
        ("2026-07-01", "d1", "2026-07-01", 3, 30_000, 29_900, 0, 0),
        ("2026-07-01", "d2", "2026-07-01", 4, 10_000, 9_900, 2, 1_800),
        ("2026-07-31", "d1", "2026-07-01", 1, 9_900, 9_800, 0, 0),
    ]
    outlet_months = _rows(
        old_engine,
        "SELECT CAST(month AS TEXT), outlet_id, dealer_id, sold_count, sold_fen,"
        " returned_count FROM stat_sales_outlet_month ORDER BY month, outlet_id",
    )
    assert outlet_months == [
        ("2026-06-01", "o1", "d1", 2, 20_000, 0),
        ("2026-06-01", "o2", "d1", 1, 5_000, 1),
        ("2026-07-01", "o1", "d1", 4, 39_900, 0),
        ("2026-07-01", "o3", "d2", 4, 10_000, 2),
    ]
    indexes = {index["name"] for index in inspect(old_engine).get_indexes("stat_sales_product")}
    assert "ix_stat_product_cards" in indexes
    assert "ix_number_stock_age" in {
        index["name"] for index in inspect(old_engine).get_indexes("mobile_number")
    }

    alembic_step(old_engine, "downgrade", "0020")
    tables = set(inspect(old_engine).get_table_names())
    assert not {"stat_sales_dealer", "stat_sales_outlet_month"} & tables
    assert len(_rows(old_engine, "SELECT day FROM stat_sales_outlet")) == len(OUTLET_DAYS)
    indexes = {index["name"] for index in inspect(old_engine).get_indexes("stat_sales_product")}
    assert "ix_stat_product_cards" not in indexes
