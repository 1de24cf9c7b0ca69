"""Returns by receipt number: picked lines, refund, stock back, and the clear refusals."""

import pytest

from pos_terminal import outbox
from pos_terminal.services.errors import PosError
from pos_terminal.services.sale import CompletedSale, Tender
from pos_terminal.sync import apply_pull
from shared.codes import format_receipt_number
from shared.sync import EventResult, EventStatus, ReturnEvent
from tests.pos_terminal.conftest import Counter
from tests.pos_terminal.helpers import (
    CLERK,
    default_stock,
    msisdn,
    number_item,
    pull_response,
    resident_id,
    voucher,
    voucher_item,
)


def _sale(counter: Counter) -> CompletedSale:
    draft = counter.sales.start(CLERK)
    counter.sales.scan(draft, msisdn(2))
    counter.sales.scan(draft, voucher(1))
    counter.sales.scan(draft, voucher(2))
    counter.sales.set_customer(draft, "王五", resident_id())
    return counter.sales.complete(draft, [Tender("cash", 20_000)])


def _status(counter: Counter, item: str) -> str:
    return counter.store.conn.execute(
        "SELECT status FROM stock WHERE item = ?", (item,)
    ).fetchone()[0]


def test_return_picked_lines_refunds_and_puts_them_back_on_the_shelf(
    open_counter: Counter,
) -> None:
    sale = _sale(open_counter)
    record = open_counter.returns.find(sale.receipt_no)
    assert [(line.line_no, line.item, line.returnable) for line in record.lines] == [
        (1, msisdn(2), True),
        (2, voucher(1), True),
        (3, voucher(2), True),
    ]
    assert record.customer_masked == "王五 330602********1238"
    done = open_counter.returns.return_lines(CLERK, sale.receipt_no, [1, 3])
    assert done.refund_fen == 10_000
    assert done.items == (msisdn(2), voucher(2))
    assert _status(open_counter, msisdn(2)) == "in_stock"
    assert _status(open_counter, voucher(2)) == "in_stock"
    assert _status(open_counter, voucher(1)) == "active"
    wire = outbox.all_events(open_counter.store)[-1].to_wire()
    assert isinstance(wire, ReturnEvent)
    assert wire.id == done.event_id
    assert wire.payload.original_receipt_no == sale.receipt_no
    assert (wire.payload.items, wire.payload.refund_fen) == ([msisdn(2), voucher(2)], 10_000)
    # The back office's Z reconciliation needs the drawer and the method of the refund.
    open_shift = open_counter.store.conn.execute(
        "SELECT id FROM shifts WHERE closed_at IS NULL"
    ).fetchone()[0]
    assert (wire.payload.shift_id, wire.payload.refund_method) == (open_shift, "cash")
    assert open_counter.prints.get(done.print_job_id).receipt.title == "退货单 Return"
    again = open_counter.returns.find(sale.receipt_no)
    assert [line.refusal_code for line in again.lines] == [
        "already_returned",
        None,
        "already_returned",
    ]
    with pytest.raises(PosError) as twice:
        open_counter.returns.return_lines(CLERK, sale.receipt_no, [1])
    assert twice.value.code == "already_returned"


def test_refused_after_the_return_window(open_counter: Counter) -> None:
    sale = _sale(open_counter)
    open_counter.clock.advance(days=7, seconds=1)
    record = open_counter.returns.find(sale.receipt_no)
    assert {line.refusal_code for line in record.lines} == {"return_window_passed"}
    with pytest.raises(PosError) as late:
        open_counter.returns.return_lines(CLERK, sale.receipt_no, [2])
    assert late.value.code == "return_window_passed"
    assert "7 days" in late.value.message
    assert _status(open_counter, voucher(1)) == "active"


def test_refused_when_the_number_is_active_or_the_card_redeemed(open_counter: Counter) -> None:
    sale = _sale(open_counter)
    # The back office reports activation and redemption through the next pull.
    outbox.store_results(
        open_counter.store,
        [
            EventResult(id=e.id, seq=e.seq, status=EventStatus.accepted)
            for e in outbox.pending_events(open_counter.store, 100)
        ],
    )
    stock = [s for s in default_stock() if s.item not in (msisdn(2), voucher(1), voucher(2))]
    stock += [
        number_item(2, status="active"),
        voucher_item(1, status="redeemed"),
        voucher_item(2, status="active"),
    ]
    apply_pull(open_counter.store, pull_response(stock, cursor="c2"))
    record = open_counter.returns.find(sale.receipt_no)
    assert [line.refusal_code for line in record.lines] == [
        "item_already_active",
        "voucher_already_redeemed",
        None,
    ]
    with pytest.raises(PosError) as active:
        open_counter.returns.return_lines(CLERK, sale.receipt_no, [1])
    assert active.value.code == "item_already_active"
    with pytest.raises(PosError) as redeemed:
        open_counter.returns.return_lines(CLERK, sale.receipt_no, [3, 2])
    assert redeemed.value.code == "voucher_already_redeemed"
    # Nothing of a refused return is kept.
    assert open_counter.store.conn.execute("SELECT count(*) FROM returns").fetchone()[0] == 0
    assert open_counter.returns.return_lines(CLERK, sale.receipt_no, [3]).refund_fen == 5_000


def test_refused_when_the_terminal_sees_the_item_back_on_the_shelf(open_counter: Counter) -> None:
    sale = _sale(open_counter)
    outbox.store_results(
        open_counter.store,
        [
            EventResult(id=e.id, seq=e.seq, status=EventStatus.accepted)
            for e in outbox.pending_events(open_counter.store, 100)
        ],
    )
    # E.g. the back office reversed the sale: the card is on the shelf again.
    apply_pull(open_counter.store, pull_response(default_stock(), cursor="c2"))
    lines = open_counter.returns.find(sale.receipt_no).lines
    assert lines[1].refusal_code == "not_returnable"
    assert lines[1].refusal == "the item is in stock"


_NOT_SOLD_HERE = format_receipt_number(12, 9)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (_NOT_SOLD_HERE[:-1] + str((int(_NOT_SOLD_HERE[-1]) + 1) % 10), "bad_code"),
        (_NOT_SOLD_HERE, "sale_not_found"),
        (format_receipt_number(13, 1), "sale_not_found"),
    ],
)
def test_unknown_or_malformed_receipts(open_counter: Counter, code: str, error: str) -> None:
    with pytest.raises(PosError) as refused:
        open_counter.returns.find(code)
    assert refused.value.code == error


def test_a_cash_refund_needs_the_cash_in_the_drawer(counter: Counter) -> None:
    counter.shifts.open_shift(CLERK, 0)
    draft = counter.sales.start(CLERK)
    counter.sales.scan(draft, voucher(1))
    sale = counter.sales.complete(draft, [Tender("card", 5_000)])
    with pytest.raises(PosError) as short:
        counter.returns.return_lines(CLERK, sale.receipt_no, [1])
    assert short.value.code == "not_enough_cash"
    assert counter.returns.return_lines(CLERK, sale.receipt_no, [1], "card").refund_fen == 5_000
