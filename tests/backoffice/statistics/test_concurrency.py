"""The summaries under concurrency: several terminals of one outlet pushing sales and
returns of the same products on the same day while the charging system redeems cards of that
outlet, each in its own transaction. Every count lands exactly once: the summaries equal the
sums of the raw records afterwards, and a rebuild changes nothing."""

import csv
import io
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from backoffice.services.counter import redemption
from backoffice.services.statistics import summaries
from shared.sync import EventStatus
from tests.backoffice.channel.helpers import CIPHER, Channel, channel, pool, push, second_terminal
from tests.backoffice.settlement.helpers import LONG_WINDOW
from tests.backoffice.statistics.helpers import (
    Item,
    Line,
    cards,
    expected_summary,
    give_back,
    numbers,
    read_raw,
    sale,
    stock_outlet,
    summary_tables,
)

TERMINALS = 4
SALES_PER_TERMINAL = 10


def test_concurrent_pushes_and_redemptions_each_count_once(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        pins_csv = pool(session, cards=60)
        assert pins_csv is not None
        pins = {r["serial"]: r["pin"] for r in csv.DictReader(io.StringIO(pins_csv))}
        shop = channel(session)
        tills: list[Channel] = [shop] + [second_terminal(session, shop) for _ in range(3)]
        _, items = stock_outlet(
            session, shop.outlet_code, [numbers(TERMINALS * SALES_PER_TERMINAL), cards(55)]
        )
        phones = [i for i in items if i.kind == "number"]
        vouchers = [i for i in items if i.kind == "voucher"]
        # Cards sold beforehand, redeemed during the pushes: same day, outlet and product.
        early = vouchers[:10]
        now = datetime.now(UTC) - timedelta(minutes=30)
        (result,) = push(
            session, shop, sale(shop.terminal_no, 1, [Line(c, 5_000) for c in early], now)
        )
        assert result.status is EventStatus.accepted
        vouchers = vouchers[10:]

    barrier = threading.Barrier(TERMINALS + 1)
    errors: list[BaseException] = []

    def sell(index: int, till: Channel) -> None:
        try:
            with Session(engine, expire_on_commit=False) as own:
                barrier.wait()
                seq = 2  # the first till used 1 for the early sale
                for n in range(SALES_PER_TERMINAL):
                    phone = phones[index * SALES_PER_TERMINAL + n]
                    card: Item = vouchers[index * SALES_PER_TERMINAL + n]
                    at = now + timedelta(minutes=n)
                    sold = sale(till.terminal_no, seq, [Line(phone, 5_000), Line(card, 5_000)], at)
                    events = [sold]
                    if n % 3 == 0:
                        events.append(
                            give_back(seq + 1, sold, [card.key], at + timedelta(minutes=1))
                        )
                    results = push(own, till, *events, settings=LONG_WINDOW)
                    assert {r.status for r in results} == {EventStatus.accepted}, results
                    seq += 2
        except BaseException as exc:
            errors.append(exc)

    def redeem() -> None:
        try:
            with Session(engine) as own:
                barrier.wait()
                for card in early:
                    answer = redemption.redeem(own, card.key, pins[card.key], CIPHER, "charging")
                    assert answer.result == "valid"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sell, args=(i, t)) for i, t in enumerate(tills)]
    threads.append(threading.Thread(target=redeem))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a push or redemption hung"
    assert not errors, errors

    with Session(engine) as session:
        raw = read_raw(session)
        assert len(raw.lines) == 10 + 2 * TERMINALS * SALES_PER_TERMINAL
        assert len(raw.redemptions) == 10
        kept = summary_tables(session)
        assert kept == expected_summary(raw)
        summaries.rebuild(session)
        assert summary_tables(session) == kept
        session.rollback()


def test_the_same_batch_pushed_twice_at_once_counts_once(engine: Engine) -> None:
    """A terminal that times out and pushes its batch again while the first push is still
    being applied: one push applies it, the other answers duplicates, and the summaries
    count every sale once."""
    with Session(engine, expire_on_commit=False) as session:
        pool(session, cards=10)
        shop = channel(session)
        _, items = stock_outlet(session, shop.outlet_code, [numbers(6), cards(6)])
    at = datetime.now(UTC) - timedelta(minutes=30)
    events = [
        sale(shop.terminal_no, n + 1, [Line(items[n], 5_000), Line(items[6 + n], 5_000)], at)
        for n in range(6)
    ]
    events.append(give_back(7, events[0], [items[6].key], at + timedelta(minutes=5)))
    barrier = threading.Barrier(2)
    answers: list[list[EventStatus]] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            with Session(engine, expire_on_commit=False) as own:
                barrier.wait()
                results = push(own, shop, *events, settings=LONG_WINDOW)
                answers.append([r.status for r in results])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a push or redemption hung"
    assert not errors, errors
    assert sorted(answers) == [
        [EventStatus.accepted] * len(events),
        [EventStatus.duplicate] * len(events),
    ]
    with Session(engine) as session:
        raw = read_raw(session)
        assert len(raw.lines) == 12
        kept = summary_tables(session)
        assert kept == expected_summary(raw)
        outlet_rows = kept[1].values()
        assert sum(r["sold_count"] for r in outlet_rows) == 12
        assert sum(r["returned_count"] for r in outlet_rows) == 1
