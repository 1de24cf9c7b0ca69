"""Returns by receipt number: which lines may come back, the refund and its event."""

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from devices.printer.receipt import Receipt
from pos_terminal.outbox import record_event
from pos_terminal.services.errors import PosError, build
from pos_terminal.services.printing import enqueue
from pos_terminal.services.receipts import return_receipt
from pos_terminal.services.shift import cash_summary, require_open_shift
from pos_terminal.services.stock import (
    NUMBER,
    StockEntry,
    get_entry,
    lifecycle,
    next_status,
    set_local_status,
)
from pos_terminal.services.terminal import identity
from pos_terminal.store import Store, from_text, next_counter, to_text
from shared.codes import CodeError, format_receipt_number, mask_resident_id, parse_receipt_number
from shared.ids import new_id
from shared.lifecycle import NumberStatus, VoucherStatus
from shared.sync import EventType, ReturnPayload

RETURN_SEQ = "return_no"  # the terminal's return slip sequence (counters)

# What the terminal can tell from its stock list; the back office has the final word.
_REFUSALS = {
    (NUMBER, NumberStatus.active.value): ("item_already_active", "the number is activated"),
    (NUMBER, NumberStatus.cooling.value): ("item_already_active", "the number was activated"),
    ("voucher", VoucherStatus.redeemed.value): ("voucher_already_redeemed", "the card is redeemed"),
    ("voucher", VoucherStatus.expired.value): ("voucher_expired", "the card has expired"),
    ("voucher", VoucherStatus.frozen.value): ("item_frozen", "the card is frozen"),
    (NUMBER, NumberStatus.frozen.value): ("item_frozen", "the number is frozen"),
}


@dataclass(frozen=True)
class SoldLine:
    """A line of the original sale; `refusal` says why it cannot come back (None: it can)."""

    line_no: int
    item_kind: str
    item: str
    product: str
    description: str
    price_fen: int
    refusal_code: str | None
    refusal: str | None

    @property
    def returnable(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True)
class SaleRecord:
    sale_id: str
    receipt_no: str
    at: datetime
    clerk: str
    total_fen: int
    customer_masked: str | None
    return_until: datetime
    lines: tuple[SoldLine, ...]


@dataclass(frozen=True)
class RefundQuote:
    """What a return of the chosen lines would refund, and how, before it is made."""

    sale: SaleRecord
    lines: tuple[SoldLine, ...]
    refund_fen: int
    refund_method: str


@dataclass(frozen=True)
class CompletedReturn:
    return_id: str
    receipt_no: str
    items: tuple[str, ...]
    refund_fen: int
    refund_method: str
    event_id: str
    print_job_id: str
    receipt: Receipt
    return_no: str  # the slip's own number, printed as text and barcode


def format_return_number(terminal_no: int, seq: int) -> str:
    """A return slip's number: R, then the terminal and its return sequence laid out as a
    receipt number's digits with its check digit, so a slip is never taken for a sale receipt."""
    return "R" + format_receipt_number(terminal_no, seq)[1:]


def _describe(entry: StockEntry | None, item_kind: str, item: str) -> str:
    if entry is not None:
        return entry.description
    return f"号卡 {item}" if item_kind == NUMBER else f"充值卡 {item}"


class ReturnService:
    """Takes sold items back within the return window, refunding what was paid for them."""

    def __init__(self, store: Store, window: timedelta) -> None:
        self.store = store
        self.window = window

    def find(self, receipt_code: str) -> SaleRecord:
        """The sale a scanned receipt barcode names, each line marked returnable or not."""
        return self._find(self.store.conn, receipt_code, self.store.now())

    def _find(self, conn: sqlite3.Connection, receipt_code: str, now: datetime) -> SaleRecord:
        try:
            receipt_no = str(parse_receipt_number(receipt_code))
        except CodeError as error:
            raise PosError("bad_code", str(error)) from None
        sale = conn.execute("SELECT * FROM sales WHERE receipt_no = ?", (receipt_no,)).fetchone()
        if sale is None:
            raise PosError("sale_not_found", f"receipt {receipt_no} was not issued here")
        sold_at = from_text(sale["at"])
        until = sold_at + self.window
        window_passed = now > until
        lines = []
        for row in conn.execute(
            "SELECT * FROM sale_lines WHERE sale_id = ? ORDER BY line_no", (sale["id"],)
        ):
            entry = get_entry(conn, row["item"])
            code: str | None = None
            why: str | None = None
            if row["return_id"] is not None:
                code, why = "already_returned", "already returned"
            elif window_passed:
                days = self.window.days
                code, why = "return_window_passed", f"more than {days} days since the sale"
            elif entry is not None and (entry.item_kind, entry.status) in _REFUSALS:
                code, why = _REFUSALS[entry.item_kind, entry.status]
            elif entry is not None and not lifecycle(entry.item_kind).can(
                entry.status, "return_sale"
            ):
                code, why = "not_returnable", f"the item is {entry.status.replace('_', ' ')}"
            lines.append(
                SoldLine(
                    line_no=row["line_no"],
                    item_kind=row["item_kind"],
                    item=row["item"],
                    product=row["product"],
                    description=_describe(entry, row["item_kind"], row["item"]),
                    price_fen=row["price_fen"],
                    refusal_code=code,
                    refusal=why,
                )
            )
        customer = None
        if sale["customer_resident_id"]:
            customer = f"{sale['customer_name']} {mask_resident_id(sale['customer_resident_id'])}"
        return SaleRecord(
            sale_id=sale["id"],
            receipt_no=receipt_no,
            at=sold_at,
            clerk=sale["clerk"],
            total_fen=sale["total_fen"],
            customer_masked=customer,
            return_until=until,
            lines=tuple(lines),
        )

    def return_lines(
        self,
        clerk: str,
        receipt_code: str,
        line_nos: list[int],
        refund_method: str = "cash",
    ) -> CompletedReturn:
        """Returns the chosen lines: stock back on the shelf, refund, event, slip, together."""
        now = self.store.now()
        with self.store.write() as conn:
            shift = require_open_shift(conn)
            quote = self._quote(conn, receipt_code, line_nos, refund_method, now)
            sale, chosen, refund = quote.sale, quote.lines, quote.refund_fen
            if refund_method == "cash" and refund > cash_summary(conn, shift.id).expected_fen:
                raise PosError("not_enough_cash", "not enough cash in the drawer for the refund")
            return_id = new_id()
            event = record_event(
                conn,
                EventType.sale_return,
                build(
                    ReturnPayload,
                    return_id=return_id,
                    original_receipt_no=sale.receipt_no,
                    clerk=clerk,
                    items=[line.item for line in chosen],
                    refund_fen=refund,
                    shift_id=shift.id,
                    refund_method=refund_method,
                ),
                now,
            )
            at = to_text(now)
            conn.execute(
                "INSERT INTO returns (id, sale_id, shift_id, clerk, at, refund_fen, "
                "refund_method, event_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (return_id, sale.sale_id, shift.id, clerk, at, refund, refund_method, event.seq),
            )
            for line in chosen:
                conn.execute(
                    "UPDATE sale_lines SET return_id = ? WHERE sale_id = ? AND line_no = ?",
                    (return_id, sale.sale_id, line.line_no),
                )
                self._restock(conn, line, event.seq, at)
            me = identity(self.store)
            return_no = format_return_number(me.terminal_no, next_counter(conn, RETURN_SEQ))
            receipt = return_receipt(
                return_no=return_no,
                original_receipt_no=sale.receipt_no,
                outlet=me.outlet_name or me.outlet_code,
                clerk=clerk,
                at=now,
                timezone=me.timezone,
                lines=[(line.description, line.price_fen) for line in chosen],
                refund_fen=refund,
                refund_method=refund_method,
            )
            job_id = enqueue(conn, now, "return", return_no, receipt)
        return CompletedReturn(
            return_id,
            sale.receipt_no,
            tuple(line.item for line in chosen),
            refund,
            refund_method,
            event.id,
            job_id,
            receipt,
            return_no,
        )

    def quote(
        self, receipt_code: str, line_nos: list[int], refund_method: str = "cash"
    ) -> RefundQuote:
        """What returning these lines would refund (PosError when one cannot come back), for
        the clerk to confirm before `return_lines`."""
        return self._quote(self.store.conn, receipt_code, line_nos, refund_method, self.store.now())

    def _quote(
        self,
        conn: sqlite3.Connection,
        receipt_code: str,
        line_nos: list[int],
        refund_method: str,
        now: datetime,
    ) -> RefundQuote:
        if not line_nos:
            raise PosError("no_lines", "pick the lines to return")
        if refund_method not in ("cash", "card", "wallet"):
            raise PosError("bad_payment", f"unknown refund method {refund_method!r}")
        sale = self._find(conn, receipt_code, now)
        by_no = {line.line_no: line for line in sale.lines}
        chosen = []
        for number in dict.fromkeys(line_nos):
            line = by_no.get(number)
            if line is None:
                raise PosError("no_such_line", f"{sale.receipt_no} has no line {number}")
            if line.refusal is not None:
                raise PosError(
                    line.refusal_code or "not_returnable", f"{line.description}: {line.refusal}"
                )
            chosen.append(line)
        refund = sum(line.price_fen for line in chosen)
        return RefundQuote(sale, tuple(chosen), refund, refund_method)

    def _restock(self, conn: sqlite3.Connection, line: SoldLine, seq: int, at: str) -> None:
        entry = get_entry(conn, line.item)
        if entry is None:
            # A pull dropped the sold item from the outlet's list; it comes back on the shelf.
            conn.execute(
                "INSERT INTO stock (item, item_kind, product, status, item_rev, local_seq, "
                "updated_at) VALUES (?, ?, ?, 'in_stock', ?, ?, ?)",
                (line.item, line.item_kind, line.product, line.item[::-1], seq, at),
            )
            return
        status = next_status(entry.item_kind, entry.status, "return_sale")
        set_local_status(conn, [line.item], status, seq, at)
