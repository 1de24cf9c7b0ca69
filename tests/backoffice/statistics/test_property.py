"""Sales statistics against a brute-force oracle, on random channels.

Each Hypothesis example builds a fresh database (from the session's migrated template, so
no function-scoped fixture is shared between examples), 2–3 dealers with 1–2 outlets each,
and pushes random sales through the real sync service: numbers of several grades and ¥50 /
¥100 cards, on random days of the last two months, many of them in the hour around China
midnight (15:30–16:30 UTC), some at prices overridden by a dealer manager, some rejected,
some pushed twice. Some lines are returned later, some cards redeemed through the
redemption service. Every statistics query is then compared with sums computed here from
the raw sale, sale_line and audit_entry rows, with business days cut by zoneinfo."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import event as tally
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session

from backoffice.contracts.channel import OverrideCapsIn, PriceIn
from backoffice.contracts.statistics import SalesQuery
from backoffice.domain.statistics import Dimension, Grain
from backoffice.services.channel import prices
from backoffice.services.counter import redemption
from backoffice.services.statistics import queries, summaries
from backoffice.services.statistics.queries import Scope
from shared.sync import EventStatus, SaleEvent
from tests.backoffice.channel.helpers import CIPHER, Channel, channel, pool, push
from tests.backoffice.settlement.helpers import LONG_WINDOW
from tests.backoffice.statistics.helpers import (
    Item,
    Line,
    Raw,
    another_outlet,
    approver,
    as_utc,
    card_batch,
    cards,
    china_day,
    dumped,
    expected_ranking,
    expected_sales,
    expected_summary,
    expected_vouchers,
    fresh_session,
    give_back,
    numbers,
    read_raw,
    sale,
    stock_outlet,
    summary_tables,
    today_in_china,
)

BACKENDS = ("sqlite", "postgresql")
NOON, AROUND_MIDNIGHT = 4 * 60, 15 * 60 + 30  # minutes after 00:00 UTC


class World:
    """A channel built for one example, and what the test meant to happen in it."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.shops: list[Channel] = []
        self.stock: dict[str, list[Item]] = {}
        self.pins: dict[str, str] = {}
        self.managers: dict[str, str] = {}
        self.seq: dict[str, int] = {}
        # What should be recorded: item → (sale time, price, returned at or None).
        self.sold: dict[str, list[Any]] = {}
        self.redeemed: set[str] = set()

    def next_seq(self, shop: Channel) -> int:
        self.seq[shop.terminal_id] = self.seq.get(shop.terminal_id, 0) + 1
        return self.seq[shop.terminal_id]


NO_CAPS = OverrideCapsIn(max_markup_fen=10**9, offline_max_fen=10**9)


def _build(session: Session, data: st.DataObject) -> World:
    world = World(session)
    pool(session)
    world.pins |= card_batch(session, 5_000, 30, "CARD50-A", "10575000000000001")
    world.pins |= card_batch(session, 10_000, 15, "CARD100-A", "10575000000500001")
    for d in range(1, data.draw(st.integers(2, 3), label="dealers") + 1):
        first = channel(session, f"D{d}")
        world.shops.append(first)
        # Overrides anywhere between 1 fen and twice the list, approved offline: no caps.
        prices.set_dealer_caps(session, f"D{d}", NO_CAPS, "sales1")
        if data.draw(st.booleans(), label=f"D{d} has a second outlet"):
            world.shops.append(another_outlet(session, f"D{d}", first.dealer_id, f"D{d}-O2"))
        if data.draw(st.booleans(), label=f"D{d} has its own STD price"):
            retail = data.draw(st.integers(3_000, 6_000), label="STD retail")
            prices.set_dealer_price(
                session,
                f"D{d}",
                PriceIn(product="number:STD", retail_fen=retail, dealer_fen=retail - 500),
                "sales1",
            )
    for shop in world.shops:
        _, items = stock_outlet(
            session,
            shop.outlet_code,
            [numbers(3), numbers(1, "G3"), numbers(1, "G4"), cards(2), cards(1, 10_000)],
        )
        world.stock[shop.outlet_id] = items
    return world


def _at(data: st.DataObject, now: datetime) -> datetime:
    """A random instant of the last two months, often within half an hour of China midnight."""
    days_back = data.draw(st.integers(0, 59), label="days back")
    minute = data.draw(
        st.one_of(
            st.just(NOON),
            st.integers(AROUND_MIDNIGHT, AROUND_MIDNIGHT + 60),
            st.integers(0, 24 * 60 - 1),
        ),
        label="minute of the UTC day",
    )
    day = now.date() - timedelta(days=days_back)
    at = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minute)
    return min(at, now - timedelta(minutes=10))


def _push(world: World, shop: Channel, events: list[Any], expected: list[EventStatus]) -> None:
    results = push(world.session, shop, *events, settings=LONG_WINDOW)
    assert [r.status for r in results] == expected, results


def _trade(world: World, data: st.DataObject, now: datetime) -> None:
    """Random sales and returns per outlet, pushed in random batches; a few rejected sales
    and re-pushed batches on the way."""
    session = world.session
    for shop in world.shops:
        items = data.draw(st.permutations(world.stock[shop.outlet_id]), label="shelf order")
        for_sale = items[: data.draw(st.integers(0, len(items)), label="items sold")]
        sales: list[SaleEvent] = []
        while for_sale:
            size = data.draw(st.integers(1, 3), label="lines")
            chosen, for_sale = for_sale[:size], for_sale[size:]
            lines = []
            for item in chosen:
                listed = prices.prices_for_dealer(session, shop.dealer_id)[item.product].retail_fen
                if data.draw(st.integers(0, 4), label="override?") == 0:
                    if shop.dealer_id not in world.managers:
                        world.managers[shop.dealer_id] = approver(
                            session, shop.dealer_id, f"boss-{len(world.managers)}"
                        )
                    price = data.draw(st.integers(1, 2 * listed), label="overridden price")
                    lines.append(Line(item, price, world.managers[shop.dealer_id]))
                else:
                    lines.append(Line(item, listed))
            sales.append(sale(shop.terminal_no, world.next_seq(shop), lines, _at(data, now)))
        # Returns: some lines of some sales, later, in one or two returns, each placed after
        # its sale in the stream; now and then preceded by one refunding the wrong amount.
        after: dict[int, list[tuple[SaleEvent, list[str], datetime, bool]]] = {}
        for index, event in enumerate(sales):
            back = [
                line.item
                for line in event.payload.lines
                if data.draw(st.integers(0, 3), label="return line?") == 0
            ]
            split = data.draw(st.integers(1, max(len(back), 1)), label="first return's lines")
            for part in (back[:split], back[split:]):
                if not part:
                    continue
                delay = data.draw(
                    st.one_of(st.integers(0, 12 * 60), st.integers(0, 20 * 24 * 60)),
                    label="delay",
                )
                at = min(event.occurred_at + timedelta(minutes=delay), now - timedelta(minutes=1))
                where = data.draw(st.integers(index, len(sales) - 1), label="return pushed after")
                wrong = data.draw(st.integers(0, 5), label="wrong refund first?") == 0
                after.setdefault(where, []).append((event, part, at, wrong))
        stream: list[tuple[Any, EventStatus]] = []
        rejected = EventStatus.rejected
        others = [i for s in world.shops if s is not shop for i in world.stock[s.outlet_id]]
        for index, event in enumerate(sales):
            stream.append((event, EventStatus.accepted))
            if others and data.draw(st.integers(0, 5), label="foreign item?") == 0:
                foreign = data.draw(st.sampled_from(others), label="foreign item")
                refused = sale(
                    shop.terminal_no, world.next_seq(shop), [Line(foreign, 5_000)], _at(data, now)
                )
                stream.append((refused, rejected))
            for original, back, at, wrong in after.get(index, []):
                if wrong:
                    refused = give_back(world.next_seq(shop), original, back, at)
                    payload = refused.payload
                    payload = payload.model_copy(update={"refund_fen": payload.refund_fen + 1})
                    stream.append((refused.model_copy(update={"payload": payload}), rejected))
                stream.append(
                    (give_back(world.next_seq(shop), original, back, at), EventStatus.accepted)
                )
        final = stream
        while final:
            size = data.draw(st.integers(1, 4), label="batch size")
            batch, final = final[:size], final[size:]
            _push(world, shop, [e for e, _ in batch], [s for _, s in batch])
            if data.draw(st.integers(0, 5), label="push again?") == 0:
                _push(world, shop, [e for e, _ in batch], [EventStatus.duplicate] * len(batch))
            for event, status in batch:
                if status is not EventStatus.accepted:
                    continue
                if isinstance(event, SaleEvent):
                    for line in event.payload.lines:
                        world.sold[line.item] = [event.occurred_at, line.price_fen, None]
                else:
                    for item in event.payload.items:
                        world.sold[item][2] = event.occurred_at


def _redeem(world: World, data: st.DataObject, now: datetime) -> None:
    """Some sold cards redeemed by the charging system; returned cards cannot be."""
    cards_sold = sorted(k for k in world.sold if len(k) == 17)
    for serial in cards_sold:
        if not data.draw(st.booleans(), label=f"redeem {serial}?"):
            continue
        answer = redemption.redeem(world.session, serial, world.pins[serial], CIPHER, "charging")
        if world.sold[serial][2] is None:
            assert answer.result == "valid"
            world.redeemed.add(serial)
        else:
            assert answer.result == "not_sold"
    # A redeemed card cannot be returned afterwards, and the attempt counts nothing.
    if world.redeemed and data.draw(st.booleans(), label="return a redeemed card?"):
        serial = data.draw(st.sampled_from(sorted(world.redeemed)), label="redeemed card")
        receipt, shop = (
            world.session.connection()
            .execute(
                text(
                    "SELECT s.receipt_no, s.terminal_id FROM sale s JOIN sale_line l"
                    " ON l.sale_id = s.id WHERE l.item_key = :serial"
                ),
                {"serial": serial},
            )
            .one()
        )
        counter = next(s for s in world.shops if s.terminal_id == shop)
        price = world.sold[serial][1]
        original = sale(counter.terminal_no, 1, [Line(Item("voucher", serial, ""), price)], now)
        original = original.model_copy(
            update={"payload": original.payload.model_copy(update={"receipt_no": receipt})}
        )
        refused = give_back(world.next_seq(counter), original, [serial], now)
        _push(world, counter, [refused], [EventStatus.rejected])


def _check_raw(world: World, raw: Raw) -> None:
    """The raw records hold exactly what the test pushed: the oracle starts from truth."""
    recorded = {
        line["item_key"]: (line["sold_at"], line["price_fen"], line["returned_at"])
        for line in raw.lines
    }
    assert set(recorded) == set(world.sold)

    def same(a: datetime | str | None, b: datetime | None) -> bool:
        if a is None or b is None:
            return a is b
        return abs(as_utc(a) - b) < timedelta(milliseconds=1)

    for item, (sold_at, price, returned_at) in world.sold.items():
        got = recorded[item]
        assert same(got[0], sold_at) and got[1] == price and same(got[2], returned_at), item
    assert {r["serial"] for r in raw.redemptions} == world.redeemed


def _difference(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows only the service gave and those only the oracle did, for the message."""
    return {
        "only_service": [r for r in got if r not in want],
        "only_expected": [r for r in want if r not in got],
    }


def _check_sales(session: Session, raw: Raw, world: World, start: date, end: date) -> None:
    dealer = world.shops[-1].dealer_id
    outlet = world.shops[0]
    filters: list[dict[str, Any]] = [
        {},
        {"scope": Scope(dealer_id=dealer), "dealer_id": dealer},
        {"scope": Scope(outlet_id=outlet.outlet_id), "outlet_id": outlet.outlet_id},
        {"scope": Scope(dealer_id=outlet.dealer_id, outlet_id=outlet.outlet_id)}
        | {"dealer_id": outlet.dealer_id, "outlet_id": outlet.outlet_id},
        {"product": "number:STD"},
        {"product": "voucher:5000", "scope": Scope(dealer_id=dealer), "dealer_id": dealer},
        {"grade": "G3"},
        {"grade": "STD", "scope": Scope(outlet_id=outlet.outlet_id), "outlet_id": outlet.outlet_id},
    ]
    for grain in Grain:
        for by in Dimension:
            for f in filters:
                query = SalesQuery(
                    start=start,
                    end=end,
                    grain=grain,
                    by=by,
                    product=f.get("product"),
                    grade=f.get("grade"),
                )
                got = dumped(queries.sales(session, query, f.get("scope", Scope())))
                want = expected_sales(
                    raw,
                    start=start,
                    end=end,
                    grain=grain.value,
                    by=by.value,
                    dealer_id=f.get("dealer_id"),
                    outlet_id=f.get("outlet_id"),
                    product=f.get("product"),
                    grade=f.get("grade"),
                )
                assert got == want, (grain, by, f, _difference(got, want))


def _check_rankings(session: Session, raw: Raw, world: World, start: date, end: date) -> None:
    for kind, compute in (
        ("dealer", queries.dealer_ranking),
        ("outlet", queries.top_outlets),
    ):
        for dealer in (None, world.shops[0].dealer_id):
            got = dumped(compute(session, start, end, Scope(dealer_id=dealer), 1_000))
            assert [r.pop("rank") for r in got] == list(range(1, len(got) + 1))
            nets = [r["net_fen"] for r in got]
            assert nets == sorted(nets, reverse=True), (kind, dealer)
            want = {
                r["code"]: r
                for r in expected_ranking(raw, start=start, end=end, kind=kind, dealer_id=dealer)
            }
            for row in got:
                expected = want.pop(row["code"])
                assert row == expected, str((kind, dealer, row, expected))
            # A dealer or outlet with only redemptions in the range is not ranked.
            assert want == {}, want
            top = dumped(compute(session, start, end, Scope(dealer_id=dealer), 2))
            assert [r["code"] for r in top] == [r["code"] for r in got[:2]]
        # A range that ends before it starts holds nothing (also when it ends on a month's
        # last day, so that it covers no month at all).
        assert compute(session, end + timedelta(days=1), end, Scope(), 20) == []
        assert compute(session, date(2026, 7, 1), date(2026, 6, 30), Scope(), 20) == []


def _check_vouchers(session: Session, raw: Raw, world: World, start: date, end: date) -> None:
    for grain in Grain:
        scopes = ((None, None), (world.shops[0].dealer_id, None), (None, world.shops[-1].outlet_id))
        for dealer, outlet in scopes:
            rows = queries.vouchers(session, start, end, grain, Scope(dealer, outlet))
            got = {r.period: r.model_dump(exclude={"period"}) for r in rows}
            assert [r.period for r in rows] == sorted(got)
            want = expected_vouchers(
                raw, start=start, end=end, grain=grain.value, dealer_id=dealer, outlet_id=outlet
            )
            assert got == want, (grain, dealer, outlet)


def _check_sell_through(session: Session, raw: Raw, start: date, end: date) -> None:
    moved: dict[tuple[str, str], list[int]] = {}
    for fact in raw.facts:
        if fact.what != "redeemed" and start <= fact.day <= end:
            code = raw.outlets[fact.outlet_id]["code"]
            counts = moved.setdefault((code, fact.kind), [0, 0])
            counts[0 if fact.what == "sold" else 1] += 1
    received: dict[tuple[str, str], int] = {}
    for outlet_id, kind, items, created in session.connection().execute(
        text(
            "SELECT d.outlet_id, l.item_kind, l.item_count, d.created_at FROM stock_document d"
            " JOIN stock_document_line l ON l.document_id = d.id WHERE d.kind IN ('DN', 'TR')"
        )
    ):
        if start <= china_day(as_utc(created)) <= end:
            key = (raw.outlets[outlet_id]["code"], kind)
            received[key] = received.get(key, 0) + items
    on_hand: dict[tuple[str, str], int] = {}
    for outlet_id, kind in session.connection().execute(
        text(
            "SELECT outlet_id, 'number' FROM mobile_number WHERE status IN ('in_stock', 'reserved')"
            " UNION ALL SELECT outlet_id, 'voucher' FROM voucher WHERE status = 'in_stock'"
        )
    ):
        if outlet_id is not None:
            key = (raw.outlets[outlet_id]["code"], kind)
            on_hand[key] = on_hand.get(key, 0) + 1
    rows = queries.sell_through(session, start, end, Scope())
    got = {(r.outlet_code, r.item_kind): r for r in rows}
    assert [(r.outlet_code, r.item_kind) for r in rows] == sorted(got)
    for key in set(moved) | set(received) | set(on_hand):
        row = got.get(key)
        assert row is not None, key
        sold, returned = moved.get(key, [0, 0])
        came = received.get(key, 0)
        assert (row.sold, row.returned, row.received, row.on_hand) == (
            sold,
            returned,
            came,
            on_hand.get(key, 0),
        ), key
        assert row.sell_through == (round(sold / came, 4) if came else None)
    # No row for an outlet with nothing received, moved or on hand (only redemptions).
    assert set(got) == set(moved) | set(received) | set(on_hand)
    # The page's figures for all outlets, read from the dealer-day summary.
    totals = queries.sell_through_totals(session, start, end, Scope())
    assert (totals.received, totals.sold, totals.returned) == (
        sum(received.values()),
        sum(counts[0] for counts in moved.values()),
        sum(counts[1] for counts in moved.values()),
    )
    # A page of outlets gives the rows of its outlets, the pages together every row.
    paged = []
    after = ""
    while True:
        ids, after = queries.outlet_page(session, Scope(), after, limit=2)
        paged.extend(queries.sell_through(session, start, end, Scope(), ids))
        if after is None:
            break
    assert paged == rows
    # The stock's figures for all outlets are what its rows add up to.
    stock_rows = queries.stock(session, Scope())
    stock_total = queries.stock_totals(session, Scope())
    for name in ("on_hand", "reserved", "days_0_30", "days_31_60", "days_61_90", "days_over_90"):
        assert getattr(stock_total, name) == sum(getattr(r, name) for r in stock_rows), name
    assert stock_total.on_hand == sum(on_hand.values())


def _ranges(data: st.DataObject) -> list[tuple[date, date]]:
    today = today_in_china()
    start = today - timedelta(days=data.draw(st.integers(0, 62), label="range start"))
    end = min(start + timedelta(days=data.draw(st.integers(0, 45), label="range length")), today)
    return [(today - timedelta(days=70), today + timedelta(days=1)), (start, end)]


@pytest.mark.parametrize("backend", BACKENDS)
@settings(
    max_examples=18,
    # Each example builds a database: shrinking a failure would take many minutes, and the
    # labelled draws of an unshrunk example read well enough.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_statistics_equal_a_brute_force_count_of_the_raw_records(
    backend: str, data: st.DataObject, templates: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    directory: Path = tmp_path_factory.getbasetemp() / "statistics-property"
    directory.mkdir(exist_ok=True)
    with fresh_session(templates, backend, directory) as session:
        now = datetime.now(UTC)
        world = _build(session, data)
        _trade(world, data, now)
        _redeem(world, data, now)
        session.commit()
        raw = read_raw(session)
        _check_raw(world, raw)
        returned = sum(1 for line in raw.lines if line["returned_at"] is not None)
        tally(f"lines sold: {min(len(raw.lines) // 10 * 10, 30)}+")
        tally(f"lines returned: {min(returned, 5)}{'+' if returned >= 5 else ''}")
        redeemed = len(raw.redemptions)
        tally(f"cards redeemed: {min(redeemed, 3)}{'+' if redeemed >= 3 else ''}")

        # The summaries kept sale by sale hold exactly the sums of the raw records ...
        incremental = summary_tables(session)
        assert incremental == expected_summary(raw)
        # ... and a rebuild from the records writes exactly the same rows.
        assert summaries.rebuild(session) == len(incremental[0])
        assert summary_tables(session) == incremental
        session.rollback()

        for start, end in _ranges(data):
            _check_sales(session, raw, world, start, end)
            _check_rankings(session, raw, world, start, end)
            _check_vouchers(session, raw, world, start, end)
            _check_sell_through(session, raw, start, end)
