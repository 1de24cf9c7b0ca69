"""The summaries' rebuild from the records against the summaries kept sale by sale: numbers
of three grades and cards of two face values at three outlets of two dealers, sold on
either side of China midnight at the turn of a week and of a month (down to the last
microsecond of a day), returned on the day sold, a microsecond into the next day, days
later and in the next month, sold again after a return, and cards redeemed. The rebuild
writes exactly the rows the pushes wrote, value for value as the database holds them,
replaces whatever the tables held before, and pushes after it add to its rows as to their
own."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from backoffice.services.channel import prices
from backoffice.services.counter import redemption
from backoffice.services.statistics import summaries
from shared.sync import EventStatus, SaleEvent
from tests.backoffice.channel.helpers import CIPHER, Channel, channel, pool, push
from tests.backoffice.settlement.helpers import LONG_WINDOW
from tests.backoffice.statistics.helpers import (
    Item,
    Line,
    another_outlet,
    as_utc,
    card_batch,
    cards,
    china_day,
    expected_summary,
    give_back,
    numbers,
    read_raw,
    sale,
    stock_outlet,
    summary_tables,
)

# Sunday 28 June 2026 and Tuesday 30 June 2026 (China): China midnight is 16:00 UTC.
SUNDAY, JUNE_30 = date(2026, 6, 28), date(2026, 6, 30)
LAST_MICROSECOND = timedelta(hours=15, minutes=59, seconds=59, microseconds=999_999)
MIDNIGHT = timedelta(hours=16)


def _at(day: date, offset: timedelta) -> datetime:
    """The UTC instant `offset` after 00:00 UTC of `day`."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + offset


@dataclass
class Shop:
    channel: Channel
    items: list[Item]
    seq: int = 0

    def take(self, product: str) -> Item:
        item = next(i for i in self.items if i.product == product)
        self.items.remove(item)
        return item


class Trade:
    """Three outlets (D1-O1, D1-O2, D2-O1) with numbers of grades STD, G3 and G4 and cards
    of ¥50 and ¥100, and the pushes of their sales and returns."""

    def __init__(self, session: Session) -> None:
        self.session = session
        pool(session)
        self.pins = card_batch(session, 5_000, 12, "CARD50-R", "10575000000000001")
        self.pins |= card_batch(session, 10_000, 6, "CARD100-R", "10575000000500001")
        d1 = channel(session, "D1")
        d2 = channel(session, "D2")
        self.shops = {
            "D1-O1": d1,
            "D1-O2": another_outlet(session, "D1", d1.dealer_id, "D1-O2"),
            "D2-O1": d2,
        }
        self.stock: dict[str, Shop] = {}
        for code, shop in self.shops.items():
            _, items = stock_outlet(
                session,
                shop.outlet_code,
                [numbers(3), numbers(1, "G3"), numbers(1, "G4"), cards(4), cards(2, 10_000)],
            )
            self.stock[code] = Shop(shop, items)

    def _push(self, shop: Shop, event: Any) -> None:
        (result,) = push(self.session, shop.channel, event, settings=LONG_WINDOW)
        assert result.status is EventStatus.accepted, result

    def sell(self, code: str, at: datetime, *products: str) -> SaleEvent:
        shop = self.stock[code]
        listed = prices.prices_for_dealer(self.session, shop.channel.dealer_id)
        lines = [Line(item, listed[item.product].retail_fen) for item in map(shop.take, products)]
        shop.seq += 1
        event = sale(shop.channel.terminal_no, shop.seq, lines, at)
        self._push(shop, event)
        return event

    def resell(self, code: str, at: datetime, item: Item) -> SaleEvent:
        """Sells an item that came back to the shelf."""
        self.stock[code].items.append(item)
        return self.sell(code, at, item.product)

    def give_back(self, code: str, original: SaleEvent, items: list[str], at: datetime) -> None:
        shop = self.stock[code]
        shop.seq += 1
        self._push(shop, give_back(shop.seq, original, items, at))

    def redeem(self, event: SaleEvent) -> None:
        for line in event.payload.lines:
            if line.item_kind == "voucher":
                answer = redemption.redeem(
                    self.session, line.item, self.pins[line.item], CIPHER, "charging"
                )
                assert answer.result == "valid", answer


def _item(event: SaleEvent, product: str) -> Item:
    line = next(line for line in event.payload.lines if line.product == product)
    return Item(line.item_kind, line.item, line.product)


def _trade(session: Session) -> Trade:
    trade = Trade(session)
    # D1-O1: the last microsecond of Sunday and the first of Monday (a new week), China time.
    sunday = trade.sell("D1-O1", _at(SUNDAY, LAST_MICROSECOND), "number:STD", "voucher:5000")
    monday = trade.sell("D1-O1", _at(SUNDAY, MIDNIGHT), "number:G3", "voucher:10000")
    # The card back a microsecond into Monday, the G3 number on the first instant of July.
    trade.give_back("D1-O1", sunday, [_item(sunday, "voucher:5000").key], _at(SUNDAY, MIDNIGHT))
    g3 = _item(monday, "number:G3")
    trade.give_back("D1-O1", monday, [g3.key], _at(JUNE_30, MIDNIGHT))
    # ... and sold again in July, at the same outlet.
    trade.resell("D1-O1", _at(date(2026, 7, 3), timedelta(hours=2)), g3)
    # D1-O2: the last microsecond of June, and 04:00 on 1 July.
    trade.sell("D1-O2", _at(JUNE_30, LAST_MICROSECOND), "voucher:10000", "number:G4")
    noon = trade.sell("D1-O2", _at(JUNE_30, timedelta(hours=20)), "number:STD", "number:STD")
    # One of them back two hours later, the same day.
    back = noon.payload.lines[1].item
    trade.give_back("D1-O2", noon, [back], _at(JUNE_30, timedelta(hours=22)))
    # D2-O1: two lines of one sale on 1 July, one returned at the last microsecond of 5 July.
    pair = trade.sell("D2-O1", _at(JUNE_30, MIDNIGHT), "number:STD", "number:G4")
    trade.give_back(
        "D2-O1", pair, [_item(pair, "number:G4").key], _at(date(2026, 7, 5), LAST_MICROSECOND)
    )
    # Cards redeemed today (the charging system's clock), one sold a minute ago.
    cards_now = trade.sell(
        "D2-O1", datetime.now(UTC) - timedelta(minutes=1), "voucher:5000", "voucher:10000"
    )
    trade.redeem(cards_now)
    trade.redeem(monday)
    return trade


_COUNTERS = (
    "sold_count, sold_fen, dealer_fen, returned_count, returned_fen, returned_dealer_fen,"
    " redeemed_count, redeemed_fen"
)


def _stored(session: Session) -> list[list[tuple[Any, ...]]]:
    """The four summary tables row by row in key order, every column as the database gives
    it back with plain SQL (on SQLite the dates' text itself)."""
    connection = session.connection()
    return [
        [tuple(row) for row in connection.execute(text(f"SELECT {columns}, {_COUNTERS} {rest}"))]
        for columns, rest in (
            (
                "day, outlet_id, product, dealer_id, grade_code, week, month",
                "FROM stat_sales_product ORDER BY day, outlet_id, product",
            ),
            (
                "day, outlet_id, dealer_id, week, month",
                "FROM stat_sales_outlet ORDER BY day, outlet_id",
            ),
            ("day, dealer_id, week, month", "FROM stat_sales_dealer ORDER BY day, dealer_id"),
            (
                "month, outlet_id, dealer_id",
                "FROM stat_sales_outlet_month ORDER BY month, outlet_id",
            ),
        )
    ]


def test_a_rebuild_writes_exactly_the_rows_the_pushes_kept(session: Session) -> None:
    trade = _trade(session)
    session.commit()
    kept = _stored(session)
    raw = read_raw(session)
    assert len(raw.lines) == 13 and len(raw.redemptions) == 3
    assert sum(line["returned_at"] is not None for line in raw.lines) == 4
    assert summary_tables(session) == expected_summary(raw)

    assert summaries.rebuild(session) == len(kept[0])
    session.commit()
    assert _stored(session) == kept

    # The edges as counted: the last microsecond of a China day stays in it.
    products, outlets = summary_tables(session)
    d1, d1b = trade.shops["D1-O1"].outlet_id, trade.shops["D1-O2"].outlet_id
    d2 = trade.shops["D2-O1"].outlet_id
    sunday = products[(SUNDAY, d1, "number:STD")]
    assert (sunday["week"], sunday["month"], sunday["sold_count"]) == (
        date(2026, 6, 22),
        date(2026, 6, 1),
        1,
    )
    monday = outlets[(date(2026, 6, 29), d1)]
    assert (monday["week"], monday["sold_count"], monday["returned_count"]) == (
        date(2026, 6, 29),
        2,
        1,
    )
    returned_g3 = products[(date(2026, 7, 1), d1, "number:G3")]
    assert (returned_g3["month"], returned_g3["returned_count"], returned_g3["sold_count"]) == (
        date(2026, 7, 1),
        1,
        0,
    )
    assert products[(date(2026, 7, 3), d1, "number:G3")]["sold_count"] == 1
    assert products[(JUNE_30, d1b, "voucher:10000")]["grade_code"] == ""
    assert products[(JUNE_30, d1b, "number:G4")]["grade_code"] == "G4"
    same_day = outlets[(date(2026, 7, 1), d1b)]
    assert (same_day["sold_count"], same_day["returned_count"]) == (2, 1)
    assert products[(date(2026, 7, 5), d2, "number:G4")]["returned_count"] == 1
    for redeemed in raw.redemptions:
        day = china_day(as_utc(redeemed["at"]))
        product = f"voucher:{redeemed['face_value_fen']}"
        assert products[(day, redeemed["outlet_id"], product)]["redeemed_count"] >= 1
    assert sum(row["redeemed_fen"] for row in outlets.values()) == 25_000


def test_a_rebuild_replaces_what_the_tables_held(session: Session) -> None:
    _trade(session)
    session.commit()
    kept = _stored(session)
    connection = session.connection()
    connection.execute(text("DELETE FROM stat_sales_outlet"))
    connection.execute(text("DELETE FROM stat_sales_dealer WHERE day > '2026-06-30'"))
    connection.execute(text("UPDATE stat_sales_outlet_month SET sold_count = sold_count + 3"))
    connection.execute(
        text(
            "UPDATE stat_sales_product SET sold_count = sold_count + 7, dealer_id = 'x'"
            " WHERE product = 'number:STD'"
        )
    )
    connection.execute(
        text(
            "INSERT INTO stat_sales_product (day, outlet_id, product, dealer_id, grade_code,"
            " week, month, sold_count, sold_fen, dealer_fen, returned_count, returned_fen,"
            " returned_dealer_fen, redeemed_count, redeemed_fen) VALUES ('2020-01-01', 'gone',"
            " 'number:STD', 'gone', 'STD', '2019-12-30', '2020-01-01', 1, 1, 1, 0, 0, 0, 0, 0)"
        )
    )
    session.commit()
    summaries.rebuild(session)
    session.commit()
    assert _stored(session) == kept


def test_pushes_after_a_rebuild_add_to_its_rows(session: Session) -> None:
    trade = _trade(session)
    summaries.rebuild(session)
    session.commit()
    # More on days and products the rebuild wrote, and on a new day.
    again = trade.sell("D1-O1", _at(SUNDAY, timedelta(hours=3)), "number:STD", "voucher:5000")
    trade.give_back("D1-O1", again, [_item(again, "number:STD").key], _at(SUNDAY, MIDNIGHT))
    trade.sell("D2-O1", _at(date(2026, 7, 20), timedelta(hours=3)), "voucher:5000")
    session.commit()
    kept = _stored(session)
    assert summary_tables(session) == expected_summary(read_raw(session))
    summaries.rebuild(session)
    session.commit()
    assert _stored(session) == kept


def test_a_rebuild_without_sales_leaves_the_tables_empty(session: Session) -> None:
    assert summaries.rebuild(session) == 0
    session.commit()
    assert _stored(session) == [[], [], [], []]
