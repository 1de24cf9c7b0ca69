"""The sale at the counter: scan to line, number pick, real name, price override (approved by
the back office online, or at the counter within the offline cap), payment, commit."""

import contextlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from devices.printer.receipt import Receipt
from pos_terminal.outbox import record_event
from pos_terminal.services import overrides
from pos_terminal.services.errors import BackOfficeRefused, Offline, PosError, build
from pos_terminal.services.login import LoginService
from pos_terminal.services.printing import enqueue
from pos_terminal.services.receipts import sale_receipt
from pos_terminal.services.shift import count_no_sale_opening, require_open_shift
from pos_terminal.services.stock import (
    IN_STOCK,
    NUMBER,
    StockEntry,
    get_entry,
    next_status,
    resolve_item,
    search_numbers,
    set_local_status,
)
from pos_terminal.services.terminal import PRICE_LIST_VERSION, require_dealer_active
from pos_terminal.store import Store, from_text, next_counter, to_text
from shared.codes import CodeError, format_receipt_number, mask_resident_id, parse_resident_id
from shared.ids import new_id
from shared.sync import (
    Customer,
    EventType,
    Payment,
    PriceOverride,
    Reservation,
    SaleLine,
    SalePayload,
)

RECEIPT_SEQ = "receipt_seq"
RESERVED = "reserved"
# The outlet's daily reservation quota is for holding pool numbers; when it runs out the
# terminal still sells its own stock, as it does offline, and the back office reconciles.
_SELL_WITHOUT_HOLD = frozenset({"quota_exhausted"})
PaymentMethod = Literal["cash", "card", "wallet"]


class NumberReserver(Protocol):
    """The back office's reservation (the sync client): Offline when unreachable,
    BackOfficeRefused when the number cannot be held."""

    def reserve(self, msisdn: str, clerk: str) -> Reservation: ...

    def cancel_reservation(self, reservation_id: str) -> None: ...


@dataclass
class DraftLine:
    entry: StockEntry
    list_price_fen: int
    price_fen: int
    override: PriceOverride | None = None
    reservation_id: str | None = None
    # An approval the back office signed holds for a limited time.
    approval_expires_at: datetime | None = None

    @property
    def description(self) -> str:
        return self.entry.description


@dataclass
class SaleDraft:
    """A sale being rung up; nothing of it is stored until complete()."""

    clerk: str
    lines: list[DraftLine] = field(default_factory=list)
    customer: Customer | None = None
    # Made up front: an approval from the back office is bound to the sale.
    sale_id: str = field(default_factory=new_id)

    @property
    def total_fen(self) -> int:
        return sum(line.price_fen for line in self.lines)

    @property
    def needs_real_name(self) -> bool:
        return any(line.entry.item_kind == NUMBER for line in self.lines)

    @property
    def customer_masked(self) -> str | None:
        if self.customer is None:
            return None
        return f"{self.customer.name} {mask_resident_id(self.customer.resident_id)}"


@dataclass(frozen=True)
class Tender:
    """Money handed over: for cash, what the customer gave (change comes back from it)."""

    method: PaymentMethod
    amount_fen: int


@dataclass(frozen=True)
class CompletedSale:
    sale_id: str
    receipt_no: str
    total_fen: int
    payments: tuple[Payment, ...]
    tendered_fen: int
    change_fen: int
    event_id: str
    print_job_id: str
    receipt: Receipt

    @property
    def opens_drawer(self) -> bool:
        return any(p.method == "cash" for p in self.payments)


def settle(total_fen: int, tenders: Sequence[Tender]) -> tuple[list[Payment], int]:
    """Payments as the sale records them and the change; cash is the only tender with change."""
    if not tenders:
        raise PosError("no_payment", "take a payment")
    for tender in tenders:
        if tender.method not in ("cash", "card", "wallet"):
            raise PosError("bad_payment", f"unknown payment method {tender.method!r}")
        if isinstance(tender.amount_fen, bool) or not isinstance(tender.amount_fen, int):
            raise PosError("bad_payment", "payment amounts are integer fen")
        if tender.amount_fen <= 0:
            raise PosError("bad_payment", "each payment must be more than zero")
    cash = sum(t.amount_fen for t in tenders if t.method == "cash")
    other = sum(t.amount_fen for t in tenders if t.method != "cash")
    if other > total_fen:
        raise PosError("overpaid_by_card", "card and wallet payments cannot exceed the total")
    if cash + other < total_fen:
        raise PosError("underpaid", f"{total_fen - cash - other} fen still to pay")
    change = cash + other - total_fen
    payments = [
        Payment(method=t.method, amount_fen=t.amount_fen) for t in tenders if t.method != "cash"
    ]
    if cash - change > 0:
        payments.append(Payment(method="cash", amount_fen=cash - change))
    return payments, change


class SaleService:
    """Rings up sales. Online, a number is reserved at the back office when it is scanned."""

    def __init__(
        self,
        store: Store,
        login: LoginService,
        *,
        reserver: NumberReserver | None = None,
        approver: overrides.OverrideApprover | None = None,
        return_days: int = 7,
    ) -> None:
        self.store = store
        self.login = login
        self.reserver = reserver
        self.approver = approver
        self.return_days = return_days

    def start(self, clerk: str) -> SaleDraft:
        """A new sale; refused outside an open shift or while the dealer is suspended."""
        require_open_shift(self.store.conn)
        require_dealer_active(self.store)
        return SaleDraft(clerk=clerk)

    def search_numbers(self, pattern: str, limit: int = 50) -> list[StockEntry]:
        return search_numbers(self.store.conn, pattern, limit)

    def scan(self, draft: SaleDraft, code: str) -> DraftLine:
        """A scanned or typed number, ICCID or card serial becomes a line at the list price."""
        entry = resolve_item(self.store.conn, code)
        return self._add(draft, entry)

    def _sellable(self, entry: StockEntry, now: datetime) -> bool:
        if entry.status == IN_STOCK:
            return True
        if entry.status == RESERVED:
            row = self.store.conn.execute(
                "SELECT expires_at FROM reservations WHERE msisdn = ?", (entry.item,)
            ).fetchone()
            return row is not None and from_text(row[0]) > now
        return False

    def _add(self, draft: SaleDraft, entry: StockEntry) -> DraftLine:
        if any(line.entry.item == entry.item for line in draft.lines):
            raise PosError("already_in_sale", f"{entry.item} is already in this sale")
        now = self.store.now()
        if not self._sellable(entry, now):
            raise PosError("not_for_sale", f"{entry.description} is {entry.status}, not on sale")
        if entry.price_fen is None:
            raise PosError("no_price", f"no price for {entry.product} in the price list")
        line = DraftLine(entry, entry.price_fen, entry.price_fen)
        if entry.item_kind == NUMBER and self.reserver is not None:
            line.reservation_id = self._reserve(entry, draft.clerk)
        draft.lines.append(line)
        return line

    def _reserve(self, entry: StockEntry, clerk: str) -> str | None:
        """Holds the number at the back office; offline, the outlet's own stock is sold."""
        assert self.reserver is not None
        try:
            reservation = self.reserver.reserve(entry.item, clerk)
        except Offline:
            return None
        except BackOfficeRefused as refused:
            if refused.code in _SELL_WITHOUT_HOLD:
                return None
            raise PosError("number_unavailable", f"{entry.item}: {refused.message}") from None
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO reservations (msisdn, reservation_id, clerk, expires_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (msisdn) DO UPDATE SET "
                "reservation_id = excluded.reservation_id, clerk = excluded.clerk, "
                "expires_at = excluded.expires_at",
                (entry.item, reservation.id, clerk, to_text(reservation.expires_at)),
            )
        return reservation.id

    def add_number(self, draft: SaleDraft, msisdn: str) -> DraftLine:
        """A number picked from the search list."""
        entry = get_entry(self.store.conn, msisdn)
        if entry is None or entry.item_kind != NUMBER:
            raise PosError("unknown_item", f"number {msisdn} is not in this outlet's stock")
        return self._add(draft, entry)

    def remove_line(self, draft: SaleDraft, index: int) -> DraftLine:
        if not 0 <= index < len(draft.lines):
            raise PosError("no_such_line", f"there is no line {index + 1}")
        line = draft.lines.pop(index)
        if line.reservation_id is not None:
            with self.store.write() as conn:
                conn.execute("DELETE FROM reservations WHERE msisdn = ?", (line.entry.item,))
            if self.reserver is not None:
                # Best effort: a hold that cannot be cancelled now simply expires.
                with contextlib.suppress(Offline, BackOfficeRefused):
                    self.reserver.cancel_reservation(line.reservation_id)
        if not draft.needs_real_name:
            draft.customer = None
        return line

    def set_customer(self, draft: SaleDraft, name: str, resident_id: str) -> str:
        """Real-name registration for a number sale; returns what may be shown (masked)."""
        name = name.strip()
        if not name:
            raise PosError("name_required", "enter the customer's name as on the ID card")
        try:
            checked = parse_resident_id(resident_id)
        except CodeError as error:
            raise PosError("bad_resident_id", error.reason) from None
        draft.customer = build(Customer, name=name, resident_id=checked.value)
        return f"{name} {checked.masked}"

    def override_price(
        self,
        draft: SaleDraft,
        index: int,
        price_fen: int,
        *,
        manager: str,
        pin: str,
        reason: str,
    ) -> DraftLine:
        """A price other than the list price, within the dealer's caps, approved by a dealer
        manager's PIN and audited (services/overrides.py: online or offline)."""
        if not 0 <= index < len(draft.lines):
            raise PosError("no_such_line", f"there is no line {index + 1}")
        if isinstance(price_fen, bool) or not isinstance(price_fen, int) or price_fen < 0:
            raise PosError("bad_amount", "the price is an amount of 0 or more")
        if not reason.strip():
            raise PosError("reason_required", "a price override needs a reason")
        line = draft.lines[index]
        target = overrides.LineToOverride(
            draft.sale_id,
            draft.clerk,
            line.entry.item_kind,
            line.entry.item,
            line.entry.product,
            line.list_price_fen,
        )
        approved = overrides.approve(
            self.store,
            self.login,
            self.approver,
            target,
            price_fen,
            manager=manager,
            pin=pin,
            reason=reason.strip(),
        )
        line.price_fen = price_fen
        line.override, line.approval_expires_at = approved.override, approved.expires_at
        return line

    def override_range(self, line: DraftLine) -> tuple[tuple[int, int], tuple[int, int]]:
        """The prices a manager may approve for the line: (low, high) online and offline."""
        return overrides.price_range(self.store, line.list_price_fen)

    def approve_no_sale(self, clerk: str, *, manager: str, pin: str, reason: str) -> None:
        """Opening the drawer without a sale needs an open shift, a manager's PIN and a reason
        (audited); the opening is counted on the shift, for its Z report and close event."""
        if not reason.strip():
            raise PosError("reason_required", "opening the drawer needs a reason")
        shift = require_open_shift(self.store.conn)
        self.login.approve(
            manager,
            pin,
            "no_sale_drawer",
            {"clerk": clerk, "reason": reason.strip(), "shift_id": shift.id},
            with_audit=lambda conn: count_no_sale_opening(conn, shift.id),
        )

    def complete(self, draft: SaleDraft, tenders: Sequence[Tender]) -> CompletedSale:
        """Commits sale, stock moves, event and receipt job in one transaction."""
        if not draft.lines:
            raise PosError("empty_sale", "scan something to sell")
        if draft.needs_real_name and draft.customer is None:
            raise PosError("real_name_required", "a number sale needs the customer's real name")
        total = draft.total_fen
        if total <= 0:
            raise PosError("zero_sale", "a sale of ¥0.00 cannot be recorded")
        payments, change = settle(total, tenders)
        tendered = sum(t.amount_fen for t in tenders)
        now = self.store.now()
        with self.store.write() as conn:
            shift = require_open_shift(conn)
            me = require_dealer_active(self.store)
            version = conn.execute(
                "SELECT value FROM meta WHERE key = ?", (PRICE_LIST_VERSION,)
            ).fetchone()
            if version is None:
                raise PosError("no_price_list", "no price list yet: sync with the back office")
            statuses = {line.entry.item: self._recheck(conn, line, now) for line in draft.lines}
            for number, line in enumerate(draft.lines, start=1):
                if line.approval_expires_at is not None and line.approval_expires_at <= now:
                    raise PosError(
                        "approval_expired",
                        f"line {number}: the manager's approval has run out; approve it again",
                    )
            sale_id = draft.sale_id
            receipt_no = format_receipt_number(me.terminal_no, next_counter(conn, RECEIPT_SEQ))
            payload = build(
                SalePayload,
                sale_id=sale_id,
                receipt_no=receipt_no,
                clerk=draft.clerk,
                shift_id=shift.id,
                lines=[
                    SaleLine(
                        item_kind=line.entry.item_kind,  # type: ignore[arg-type]
                        item=line.entry.item,
                        product=line.entry.product,
                        price_fen=line.price_fen,
                        price_list_version=int(version[0]),
                        override=line.override,
                    )
                    for line in draft.lines
                ],
                payments=payments,
                customer=draft.customer,
            )
            event = record_event(conn, EventType.sale, payload, now)
            self._insert(conn, payload, draft, statuses, now, (total, tendered, change), event.seq)
            receipt = sale_receipt(
                receipt_no=receipt_no,
                outlet=me.outlet_name or me.outlet_code,
                terminal_no=me.terminal_no,
                clerk=draft.clerk,
                at=now,
                timezone=me.timezone,
                lines=[(line.description, line.price_fen) for line in draft.lines],
                total_fen=total,
                payments=[(p.method, p.amount_fen) for p in payments],
                change_fen=change,
                customer=(draft.customer.name, draft.customer.resident_id)
                if draft.customer
                else None,
                return_days=self.return_days,
            )
            job_id = enqueue(conn, now, "sale", receipt_no, receipt)
        return CompletedSale(
            sale_id,
            receipt_no,
            total,
            tuple(payments),
            tendered,
            change,
            event.id,
            job_id,
            receipt,
        )

    def _recheck(self, conn: sqlite3.Connection, line: DraftLine, now: datetime) -> str:
        """The item's status now: it may have gone since it was scanned (a pull, a sale)."""
        current = get_entry(conn, line.entry.item)
        if current is None or not self._sellable(current, now):
            state = "gone from stock" if current is None else current.status
            raise PosError("not_for_sale", f"{line.entry.item} is {state}; remove the line")
        return current.status

    def _insert(
        self,
        conn: sqlite3.Connection,
        payload: SalePayload,
        draft: SaleDraft,
        statuses: dict[str, str],
        now: datetime,
        amounts: tuple[int, int, int],
        seq: int,
    ) -> None:
        at = to_text(now)
        total, tendered, change = amounts
        conn.execute(
            "INSERT INTO sales (id, receipt_no, shift_id, clerk, at, total_fen, tendered_fen, "
            "change_fen, customer_name, customer_resident_id, event_seq) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                payload.sale_id,
                payload.receipt_no,
                payload.shift_id,
                payload.clerk,
                at,
                total,
                tendered,
                change,
                payload.customer.name if payload.customer else None,
                payload.customer.resident_id if payload.customer else None,
                seq,
            ),
        )
        for number, line in enumerate(draft.lines, start=1):
            conn.execute(
                "INSERT INTO sale_lines (sale_id, line_no, item_kind, item, product, "
                "list_price_fen, price_fen, override_by, override_reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    payload.sale_id,
                    number,
                    line.entry.item_kind,
                    line.entry.item,
                    line.entry.product,
                    line.list_price_fen,
                    line.price_fen,
                    line.override.approved_by if line.override else None,
                    line.override.reason if line.override else None,
                ),
            )
            if line.override is not None:
                conn.execute(
                    "INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)",
                    (
                        at,
                        line.override.approved_by,
                        "price_override_sold",
                        json.dumps(
                            {
                                "receipt_no": payload.receipt_no,
                                "item": line.entry.item,
                                "list_price_fen": line.list_price_fen,
                                "price_fen": line.price_fen,
                                "reason": line.override.reason,
                            },
                            ensure_ascii=False,
                        ),
                    ),
                )
            status = next_status(line.entry.item_kind, statuses[line.entry.item], "sell")
            set_local_status(conn, [line.entry.item], status, seq, at)
        conn.executemany(
            "INSERT INTO payments (sale_id, n, method, amount_fen) VALUES (?, ?, ?, ?)",
            [
                (payload.sale_id, n, p.method, p.amount_fen)
                for n, p in enumerate(payload.payments, start=1)
            ],
        )
        conn.executemany(
            "DELETE FROM reservations WHERE msisdn = ?",
            [(line.entry.item,) for line in draft.lines],
        )
