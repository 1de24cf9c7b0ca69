"""The outlet's stock at the counter: look-ups, number search, stock-in, stock count, stock-out."""

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from pos_terminal.outbox import record_event
from pos_terminal.services.errors import PosError, build
from pos_terminal.store import Store, to_text
from shared.codes import CodeError, CodeKind, DocumentKind, classify_code, parse_document_number
from shared.ids import new_id
from shared.lifecycle import NUMBER_LIFECYCLE, VOUCHER_LIFECYCLE, IllegalTransition, Lifecycle
from shared.number_search import SearchPatternError, plan_search, upper_bound
from shared.sync import (
    EventType,
    StockCountPayload,
    StockOutPayload,
    StockReceiptPayload,
)

NUMBER = "number"
VOUCHER = "voucher"
IN_STOCK = "in_stock"
IN_TRANSIT = "allocated"
# Delivery notes and transfers both bring stock into the outlet.
_INCOMING_DOCUMENTS = (DocumentKind.DN, DocumentKind.TR)


def lifecycle(item_kind: str) -> Lifecycle:  # type: ignore[type-arg]
    return NUMBER_LIFECYCLE if item_kind == NUMBER else VOUCHER_LIFECYCLE


def next_status(item_kind: str, status: str, action: str) -> str:
    """Where the item's lifecycle takes it; PosError when the terminal knows it cannot go."""
    try:
        return lifecycle(item_kind).target(status, action).value
    except (IllegalTransition, ValueError) as error:
        raise PosError("illegal_item_state", str(error)) from None


@dataclass(frozen=True)
class StockEntry:
    """One serialized item the terminal knows of, with its grade and list price."""

    item: str
    item_kind: str
    product: str
    status: str
    iccid: str | None
    grade_code: str | None
    grade_name: str | None
    price_fen: int | None

    @property
    def description(self) -> str:
        if self.item_kind == NUMBER:
            grade = f" ({self.grade_name})" if self.grade_name else ""
            return f"号卡 {self.item}{grade}"
        face = self.product.partition(":")[2]
        value = f" ¥{int(face) // 100}" if face.isdigit() else ""
        return f"充值卡{value} {self.item}"


_ENTRY_SQL = """
    SELECT s.item, s.item_kind, s.product, s.status, s.iccid,
           g.code AS grade_code, g.name AS grade_name, p.retail_fen AS price_fen
    FROM stock s
    LEFT JOIN prices p ON p.product = s.product
    LEFT JOIN grades g ON s.item_kind = 'number' AND g.code = substr(s.product, 8)
"""


def _entry(row: sqlite3.Row) -> StockEntry:
    return StockEntry(**{k: row[k] for k in row.keys()})  # noqa: SIM118 (Row is not a dict)


def get_entry(conn: sqlite3.Connection, item: str) -> StockEntry | None:
    row = conn.execute(_ENTRY_SQL + " WHERE s.item = ?", (item,)).fetchone()
    return None if row is None else _entry(row)


def resolve_item(conn: sqlite3.Connection, text: str) -> StockEntry:
    """A scanned or typed number, ICCID or card serial -> the stock entry it names."""
    try:
        code = classify_code(text)
    except CodeError as error:
        raise PosError("bad_code", str(error)) from None
    if code.kind == CodeKind.iccid:
        row = conn.execute(_ENTRY_SQL + " WHERE s.iccid = ?", (code.value,)).fetchone()
        if row is None:
            raise PosError("unknown_item", f"SIM {code.value} is not in this outlet's stock")
        return _entry(row)
    if code.kind not in (CodeKind.msisdn, CodeKind.voucher_serial):
        raise PosError("not_an_item", f"{code.value} is a {code.kind.value}, not a number or card")
    entry = get_entry(conn, code.value)
    if entry is None:
        what = "number" if code.kind == CodeKind.msisdn else "top-up card"
        raise PosError("unknown_item", f"{what} {code.value} is not in this outlet's stock")
    return entry


# --- number search --------------------------------------------------------------------------

# The number's last three digits, spelled as the index ix_stock_tail spells it (store.py).
_TAIL = "substr(item, 9, 3)"
_TAIL_DIGITS = 3


def _upper_bound(prefix: str) -> str:
    # ":" sorts after "9": the bound for a prefix of all nines.
    return upper_bound(prefix) or ":"


def search_numbers(conn: sqlite3.Connection, pattern: str, limit: int = 50) -> list[StockEntry]:
    """Numbers on this outlet's shelf matching the pattern, in number order.

    The page's numbers are chosen from an index alone, in number order, ending at the last
    match (nothing sorted), then their entries read: three or more literal final digits read
    the numbers of that ending (ix_stock_tail); otherwise the shelf's numbers (ix_stock_status,
    which holds every number it tests), from the literal leading digits when there are some."""
    try:
        plan = plan_search(pattern)
    except SearchPatternError as error:
        raise PosError("bad_pattern", str(error)) from None
    ending = len(plan.suffix) >= _TAIL_DIGITS
    # Unary + keeps the planner off the status index when the ending narrows more.
    shelf = "item_kind = 'number' AND status = 'in_stock'"
    if ending:
        shelf = "+item_kind = 'number' AND +status = 'in_stock'"
    page = f"SELECT item FROM stock WHERE {shelf} AND item LIKE ?"
    args: list[object] = [plan.like]
    if ending:
        page += f" AND {_TAIL} = ?"
        args.append(plan.suffix[-_TAIL_DIGITS:])
    if plan.prefix:
        page += " AND item >= ? AND item < ?"
        args += [plan.prefix, _upper_bound(plan.prefix)]
    page += " ORDER BY item LIMIT ?"
    args.append(limit)
    sql = _ENTRY_SQL + f" WHERE s.item IN ({page}) ORDER BY s.item"
    return [_entry(r) for r in conn.execute(sql, args)]


def on_hand(conn: sqlite3.Connection) -> dict[str, int]:
    """Items on the shelf per product."""
    rows = conn.execute(
        "SELECT product, count(*) FROM stock WHERE status = 'in_stock' GROUP BY product "
        "ORDER BY product"
    )
    return {r[0]: r[1] for r in rows}


def set_local_status(
    conn: sqlite3.Connection, items: Iterable[str], status: str, seq: int, at: str
) -> None:
    conn.executemany(
        "UPDATE stock SET status = ?, local_seq = ?, updated_at = ? WHERE item = ?",
        [(status, seq, at, item) for item in items],
    )


def _in_transit(conn: sqlite3.Connection, document_number: str | None) -> dict[str, str]:
    """In-transit items -> kind; those the back office tied to another document are left out."""
    rows = conn.execute(
        "SELECT item, item_kind FROM stock WHERE status = ? "
        "AND (document_number IS NULL OR document_number = ?)",
        (IN_TRANSIT, document_number),
    )
    return {r[0]: r[1] for r in rows}


# --- stock documents ------------------------------------------------------------------------


@dataclass
class ScanSession:
    """Items scanned so far for a stock-in or a count; a repeated scan counts once."""

    document_number: str | None = None
    scanned: list[str] = field(default_factory=list)

    def add(self, item: str) -> bool:
        if item in self.scanned:
            return False
        self.scanned.append(item)
        return True


@dataclass(frozen=True)
class StockDocumentResult:
    """What a stock-in, count or stock-out recorded, with the differences the terminal saw."""

    document_id: str
    kind: str
    document_number: str | None
    scanned: tuple[str, ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    event_id: str


class StockService:
    """Stock-in by delivery note, stock counts and stock-out to the centre, each one event."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def lookup(self, code: str) -> StockEntry:
        return resolve_item(self.store.conn, code)

    def search_numbers(self, pattern: str, limit: int = 50) -> list[StockEntry]:
        return search_numbers(self.store.conn, pattern, limit)

    def on_hand(self) -> dict[str, int]:
        return on_hand(self.store.conn)

    def _scanned_item(self, code: str) -> str:
        """The item key of a scan; unknown items are still taken (they are discrepancies)."""
        try:
            kind = classify_code(code)
        except CodeError as error:
            raise PosError("bad_code", str(error)) from None
        if kind.kind in (CodeKind.msisdn, CodeKind.voucher_serial):
            return kind.value
        if kind.kind == CodeKind.iccid:
            return resolve_item(self.store.conn, code).item
        raise PosError("not_an_item", f"{kind.value} is a {kind.kind.value}, not an item")

    # stock-in

    def start_receipt(self, document_code: str) -> ScanSession:
        """Begins a stock-in with the delivery note's barcode."""
        try:
            number = parse_document_number(document_code)
        except CodeError as error:
            raise PosError("bad_code", str(error)) from None
        if number.kind not in _INCOMING_DOCUMENTS:
            raise PosError(
                "not_a_delivery_note",
                f"{number} is a {number.kind.value} document, not a "
                "delivery note (DN) or transfer (TR)",
            )
        return ScanSession(document_number=str(number))

    def expected_in_transit(self, session: ScanSession) -> list[str]:
        """Items on their way to this outlet under the session's document, as last pulled."""
        return sorted(_in_transit(self.store.conn, session.document_number))

    def scan(self, session: ScanSession, code: str) -> bool:
        """Adds a scanned item to a stock-in or count; False when it was already scanned."""
        return session.add(self._scanned_item(code))

    def finish_receipt(self, clerk: str, session: ScanSession) -> StockDocumentResult:
        """Receives what was scanned: in-transit items go on the shelf; the rest are listed."""
        if session.document_number is None:
            raise PosError("no_document", "scan the delivery note first")
        now = self.store.now()
        with self.store.write() as conn:
            in_transit = _in_transit(conn, session.document_number)
            scanned = set(session.scanned)
            received = [i for i in session.scanned if i in in_transit]
            unexpected = [i for i in session.scanned if i not in in_transit]
            missing = sorted(set(in_transit) - scanned)
            event = record_event(
                conn,
                EventType.stock_receipt,
                build(
                    StockReceiptPayload,
                    document_number=session.document_number,
                    clerk=clerk,
                    items=session.scanned,
                ),
                now,
            )
            for item in received:
                status = next_status(in_transit[item], IN_TRANSIT, "receive")
                set_local_status(conn, [item], status, event.seq, to_text(now))
            return self._document(
                conn,
                "receipt",
                session.document_number,
                clerk,
                now,
                session.scanned,
                missing,
                unexpected,
                event.seq,
                event.id,
            )

    # stock count

    def start_count(self) -> ScanSession:
        return ScanSession()

    def finish_count(self, clerk: str, session: ScanSession) -> StockDocumentResult:
        """Compares the shelf with the stock list; the back office reconciles the event."""
        now = self.store.now()
        with self.store.write() as conn:
            shelf = {r[0] for r in conn.execute("SELECT item FROM stock WHERE status = 'in_stock'")}
            scanned = set(session.scanned)
            event = record_event(
                conn,
                EventType.stock_count,
                build(StockCountPayload, clerk=clerk, items=session.scanned),
                now,
            )
            return self._document(
                conn,
                "count",
                None,
                clerk,
                now,
                session.scanned,
                sorted(shelf - scanned),
                [i for i in session.scanned if i not in shelf],
                event.seq,
                event.id,
            )

    # stock-out

    def stock_out(self, clerk: str, codes: list[str], reason: str) -> StockDocumentResult:
        """Sends shelf items back to the centre; they leave the outlet's sellable stock."""
        if not reason.strip():
            raise PosError("reason_required", "say why the items go back to the centre")
        items = list(dict.fromkeys(self._scanned_item(c) for c in codes))
        if not items:
            raise PosError("no_items", "scan the items to send back")
        now = self.store.now()
        with self.store.write() as conn:
            entries = {}
            for item in items:
                entry = get_entry(conn, item)
                if entry is None or entry.status != IN_STOCK:
                    where = "not in stock here" if entry is None else f"is {entry.status}"
                    raise PosError("not_on_shelf", f"{item} {where}; it cannot be sent back")
                entries[item] = entry
            event = record_event(
                conn,
                EventType.stock_out,
                build(StockOutPayload, clerk=clerk, items=items, reason=reason.strip()),
                now,
            )
            for item, entry in entries.items():
                status = next_status(entry.item_kind, IN_STOCK, "return_to_centre")
                set_local_status(conn, [item], status, event.seq, to_text(now))
            return self._document(
                conn, "stock_out", None, clerk, now, items, [], [], event.seq, event.id
            )

    def _document(
        self,
        conn: sqlite3.Connection,
        kind: str,
        number: str | None,
        clerk: str,
        now: datetime,
        scanned: list[str],
        missing: list[str],
        unexpected: list[str],
        seq: int,
        event_id: str,
    ) -> StockDocumentResult:
        document_id = new_id()
        conn.execute(
            "INSERT INTO stock_documents (id, kind, document_number, clerk, at, scanned, "
            "missing_json, unexpected_json, event_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                document_id,
                kind,
                number,
                clerk,
                to_text(now),
                len(scanned),
                json.dumps(missing),
                json.dumps(unexpected),
                seq,
            ),
        )
        return StockDocumentResult(
            document_id,
            kind,
            number,
            tuple(scanned),
            tuple(missing),
            tuple(unexpected),
            event_id,
        )
