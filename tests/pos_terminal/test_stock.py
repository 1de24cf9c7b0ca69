"""Stock-in by delivery note, stock counts and stock-out to the centre, each as one event."""

from datetime import date

import pytest

from pos_terminal import outbox
from pos_terminal.services.errors import PosError
from pos_terminal.services.sale import Tender
from pos_terminal.sync import apply_pull
from shared.codes import DocumentKind, format_document_number
from shared.sync import EventType, StockCountEvent, StockOutEvent, StockReceiptEvent
from tests.pos_terminal.conftest import Counter
from tests.pos_terminal.helpers import (
    CLERK,
    default_stock,
    iccid,
    msisdn,
    number_item,
    pull_response,
    voucher,
    voucher_item,
)

DN = format_document_number(DocumentKind.DN, date(2026, 11, 19), 7)
OTHER_DN = format_document_number(DocumentKind.DN, date(2026, 11, 19), 8)


def _status(counter: Counter, item: str) -> str:
    return counter.store.conn.execute(
        "SELECT status FROM stock WHERE item = ?", (item,)
    ).fetchone()[0]


def _with_delivery(counter: Counter) -> None:
    stock = [
        *default_stock(),
        number_item(301, status="allocated", document=DN),
        number_item(302, status="allocated", document=DN, paired=True),
        voucher_item(301, status="allocated"),
        number_item(401, status="allocated", document=OTHER_DN),
    ]
    apply_pull(counter.store, pull_response(stock, cursor="c2"))


def test_stock_in_receives_scanned_items_and_lists_discrepancies(counter: Counter) -> None:
    _with_delivery(counter)
    session = counter.stock.start_receipt(DN.lower())
    assert counter.stock.expected_in_transit(session) == sorted(
        [msisdn(301), msisdn(302), voucher(301)]
    )
    assert counter.stock.scan(session, msisdn(301))
    assert not counter.stock.scan(session, msisdn(301))  # a double scan counts once
    counter.stock.scan(session, iccid(302))  # the SIM's barcode names its number
    counter.stock.scan(session, "13905719999")  # not on its way here
    result = counter.stock.finish_receipt(CLERK, session)
    assert result.document_number == DN
    assert result.scanned == (msisdn(301), msisdn(302), "13905719999")
    assert result.unexpected == ("13905719999",)
    assert result.missing == (voucher(301),)
    assert _status(counter, msisdn(301)) == "in_stock"
    assert _status(counter, msisdn(302)) == "in_stock"
    assert _status(counter, voucher(301)) == "allocated"
    assert _status(counter, msisdn(401)) == "allocated"  # another delivery note
    wire = outbox.all_events(counter.store)[-1].to_wire()
    assert isinstance(wire, StockReceiptEvent)
    assert wire.payload.document_number == DN
    assert wire.payload.items == [msisdn(301), msisdn(302), "13905719999"]


def test_stock_in_needs_a_delivery_note(counter: Counter) -> None:
    with pytest.raises(PosError) as wrong_kind:
        counter.stock.start_receipt(format_document_number(DocumentKind.SC, date(2026, 1, 1), 1))
    assert wrong_kind.value.code == "not_a_delivery_note"
    with pytest.raises(PosError) as garbage:
        counter.stock.start_receipt("DN123")
    assert garbage.value.code == "bad_code"


def test_stock_count_lists_missing_and_unexpected(open_counter: Counter) -> None:
    draft = open_counter.sales.start(CLERK)
    open_counter.sales.scan(draft, voucher(1))
    open_counter.sales.complete(draft, [Tender("cash", 5_000)])
    session = open_counter.stock.start_count()
    for code in (msisdn(1), msisdn(2), msisdn(1688), msisdn(88), voucher(2), voucher(1)):
        open_counter.stock.scan(session, code)
    result = open_counter.stock.finish_count(CLERK, session)
    assert set(result.missing) == {msisdn(5088), voucher(3, 10000)}
    assert result.unexpected == (voucher(1),)  # sold, yet on the shelf
    wire = outbox.all_events(open_counter.store)[-1].to_wire()
    assert isinstance(wire, StockCountEvent)
    assert len(wire.payload.items) == 6


def test_stock_out_takes_items_off_the_shelf(counter: Counter) -> None:
    with pytest.raises(PosError) as no_reason:
        counter.stock.stock_out(CLERK, [msisdn(2)], " ")
    assert no_reason.value.code == "reason_required"
    with pytest.raises(PosError) as unknown:
        counter.stock.stock_out(CLERK, [msisdn(2), "13905719999"], "damaged")
    assert unknown.value.code == "not_on_shelf"
    assert _status(counter, msisdn(2)) == "in_stock"  # nothing of the refused act is kept
    result = counter.stock.stock_out(CLERK, [msisdn(2), voucher(2)], "slow sellers")
    assert result.scanned == (msisdn(2), voucher(2))
    assert _status(counter, msisdn(2)) == "available"
    assert _status(counter, voucher(2)) == "in_warehouse"
    assert msisdn(2) not in {e.item for e in counter.stock.search_numbers("*")}
    wire = outbox.all_events(counter.store)[-1].to_wire()
    assert isinstance(wire, StockOutEvent)
    assert (wire.payload.items, wire.payload.reason) == ([msisdn(2), voucher(2)], "slow sellers")
    assert [e.type for e in outbox.all_events(counter.store)] == [EventType.stock_out]


def test_on_hand_counts_shelf_stock_per_product(counter: Counter) -> None:
    assert counter.stock.on_hand() == {
        "number:G3": 1,
        "number:G4": 2,
        "number:STD": 2,
        "voucher:10000": 1,
        "voucher:5000": 2,
    }
