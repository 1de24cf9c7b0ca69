"""Applying a pull: reference data replaced, stock snapshots and changes, and local acts the
back office has not answered yet kept as the terminal did them."""

from pos_terminal import outbox
from pos_terminal.services.sale import Tender
from pos_terminal.services.terminal import identity
from pos_terminal.sync import apply_pull
from shared.sync import EventResult, EventStatus, StockItem
from tests.pos_terminal.conftest import Counter
from tests.pos_terminal.helpers import (
    CLERK,
    MANAGER,
    default_stock,
    msisdn,
    number_item,
    pull_response,
    voucher,
    voucher_item,
)


def _status(counter: Counter, item: str) -> str | None:
    row = counter.store.conn.execute("SELECT status FROM stock WHERE item = ?", (item,)).fetchone()
    return None if row is None else row[0]


def _answer_all(counter: Counter) -> None:
    outbox.store_results(
        counter.store,
        [
            EventResult(id=e.id, seq=e.seq, status=EventStatus.accepted)
            for e in outbox.pending_events(counter.store, 100)
        ],
    )


def test_a_pull_older_than_an_unanswered_sale_does_not_undo_it(open_counter: Counter) -> None:
    draft = open_counter.sales.start(CLERK)
    open_counter.sales.scan(draft, voucher(1))
    open_counter.sales.complete(draft, [Tender("cash", 5_000)])
    # The office had not seen the sale when it made this snapshot.
    apply_pull(open_counter.store, pull_response(default_stock(), cursor="c2"))
    assert _status(open_counter, voucher(1)) == "active"
    _answer_all(open_counter)
    # Once answered, the office is the truth (here: it says the card is back on the shelf).
    apply_pull(open_counter.store, pull_response(default_stock(), cursor="c3"))
    assert _status(open_counter, voucher(1)) == "in_stock"


def test_changes_and_snapshots(counter: Counter) -> None:
    gone = StockItem(
        item_kind="number",
        item=msisdn(2),
        status="available",
        product="number:STD",
        in_outlet=False,
    )
    changes = [gone, number_item(77, "G4"), voucher_item(1, status="frozen")]
    apply_pull(counter.store, pull_response(changes, full=False, cursor="c2"))
    assert _status(counter, msisdn(2)) is None
    assert _status(counter, msisdn(77)) == "in_stock"
    assert _status(counter, voucher(1)) == "frozen"
    assert _status(counter, msisdn(1688)) == "in_stock"  # not in the changes: kept
    snapshot = [number_item(1688, "G3"), voucher_item(2)]
    apply_pull(counter.store, pull_response(snapshot, cursor="c3"))
    assert {r[0] for r in counter.store.conn.execute("SELECT item FROM stock")} == {
        msisdn(1688),
        voucher(2),
    }
    assert counter.store.get_meta("pull_cursor") == "c3"


def test_reference_data_is_replaced_whole(counter: Counter) -> None:
    response = pull_response(default_stock(), cursor="c2", version=2, prices={"number:STD": 6_000})
    response = response.model_copy(
        update={"clerks": [c for c in response.clerks if c.username != MANAGER]}
    )
    summary = apply_pull(counter.store, response)
    assert (summary.price_list_version, summary.clerks) == (2, 1)
    conn = counter.store.conn
    assert [tuple(r) for r in conn.execute("SELECT product, retail_fen FROM prices")] == [
        ("number:STD", 6_000)
    ]
    assert [r[0] for r in conn.execute("SELECT username FROM clerks")] == [CLERK]
    assert identity(counter.store).outlet_name == "越城一号店"
    assert counter.stock.lookup(msisdn(1688)).price_fen is None  # G3 has no price any more
