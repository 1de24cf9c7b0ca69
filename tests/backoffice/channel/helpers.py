"""Builders of a small dealer channel for the channel and sync tests."""

import base64
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache

from fastapi.testclient import TestClient
from sqlmodel import Session

from backoffice.contracts.billing import SegmentRequest, VoucherGenerateRequest
from backoffice.contracts.channel import (
    AllocationRequest,
    AllocationRule,
    DealerCreate,
    OutletCreate,
    StaffCreate,
    TerminalCreate,
)
from backoffice.core.config import Settings
from backoffice.core.crypto import Cipher, Keys
from backoffice.core.security import hash_password
from backoffice.domain.channel import AllocationOrder, DealerKind
from backoffice.domain.users import Role
from backoffice.models import User
from backoffice.services.billing import numbers, releases, vouchers
from backoffice.services.channel import allocation, dealers, movements, receipts
from backoffice.services.channel.dealers import TerminalContext
from backoffice.services.counter import sync
from shared.codes import format_receipt_number, resident_id_check_char
from shared.ids import new_id
from shared.sync import (
    Customer,
    Event,
    EventResult,
    Payment,
    PriceOverride,
    PushRequest,
    SaleEvent,
    SaleLine,
    SalePayload,
)

CIPHER = Cipher("pin", [b"k" * 32])
KEYS = Keys.of(pin=b"k" * 32, resident_id=b"i" * 32, name=b"n" * 32, id_hmac=b"h" * 32)
# The same keys as settings, for what reads them from there (the worker, the server).
KEY_SETTINGS = {
    setting: base64.urlsafe_b64encode(key * 32).decode()
    for setting, key in (
        ("pin_key", b"k"),
        ("id_key", b"i"),
        ("name_key", b"n"),
        ("id_hmac_key", b"h"),
    )
}


@dataclass
class Channel:
    dealer_id: str
    outlet_id: str
    outlet_code: str
    terminal_id: str
    terminal_no: int
    credential: str


def pool(session: Session, end: int = 999, cards: int = 0, cipher: Cipher = CIPHER) -> str | None:
    """Numbers 13905750000..end released to the pool, and optionally ¥50 cards; returns the
    card PINs as CSV."""
    numbers.generate_segment(
        session, SegmentRequest(prefix="1390575", start=0, end=end, code="SEG-A"), "billing1"
    )
    releases.release_numbers(session, "SEG-A", "billing1")
    if not cards:
        return None
    generated = vouchers.generate_vouchers(
        session,
        VoucherGenerateRequest(
            face_value_fen=5000,
            dealer_price_fen=4850,
            expires_on=date(2099, 12, 31),
            code="CARD50-A",
            first_serial="10575000000000001",
            count=cards,
        ),
        cipher,
        "billing1",
    )
    releases.release_vouchers(session, "CARD50-A", "billing1")
    return generated.pins_csv


STAFF_PIN = "1111"


@cache
def _staff_hashes() -> tuple[str, str]:
    # argon2 is slow on purpose: one password and one PIN hash for all test staff.
    return hash_password("long-password"), hash_password(STAFF_PIN)


def clerk_of(terminal_no: int) -> str:
    """The clerk `channel` and `second_terminal` make for a terminal, who sells on it (not
    `clerk1`, which the `login` fixture makes)."""
    return f"clerk-t{terminal_no}"


def add_staff(
    session: Session, dealer_id: str, *usernames: str, role: Role = Role.clerk
) -> list[str]:
    """Active staff of the dealer (PIN 1111), written directly: cheaper than create_staff."""
    password, pin = _staff_hashes()
    for username in usernames:
        session.add(
            User(
                id=new_id(),
                username=username,
                role=role.value,
                password_hash=password,
                pin_hash=pin,
                dealer_id=dealer_id,
            )
        )
    session.commit()
    return list(usernames)


def channel(
    session: Session,
    code: str = "D1",
    credit_limit_fen: int = 10_000_000,
    outlet: str = "",
    *,
    staff: bool = True,
) -> Channel:
    """A dealer with one outlet and terminal, and (`staff`) the terminal's clerk."""
    dealer = dealers.create_dealer(
        session,
        DealerCreate(
            code=code,
            name=f"dealer {code}",
            kind=DealerKind.partner,
            credit_limit_fen=credit_limit_fen,
        ),
        "sales1",
    )
    shop = dealers.create_outlet(
        session,
        OutletCreate(dealer=code, code=outlet or f"{code}-O1", name=f"outlet of {code}"),
        "sales1",
    )
    registered = dealers.register_terminal(
        session, TerminalCreate(outlet=shop.code, name="counter 1"), "admin1"
    )
    if staff:
        add_staff(session, dealer.id, clerk_of(registered.terminal.terminal_no))
    return Channel(
        dealer_id=dealer.id,
        outlet_id=shop.id,
        outlet_code=shop.code,
        terminal_id=registered.terminal.id,
        terminal_no=registered.terminal.terminal_no,
        credential=registered.credential,
    )


def allocate_numbers(
    session: Session,
    outlet: str,
    count: int,
    grade: str = "STD",
    order: AllocationOrder = AllocationOrder.in_order,
):  # type: ignore[no-untyped-def]
    return allocation.allocate(
        session,
        AllocationRequest(
            outlet=outlet,
            rules=[AllocationRule(item_kind="number", count=count, grade=grade)],
            order=order,
        ),
        "sales1",
    )


def stocked_numbers(session: Session, outlet: str, count: int, cards: int = 0) -> list[str]:
    """Allocates and receives `count` standard numbers (and ¥50 cards) at the outlet;
    returns them, numbers first."""
    rules = [AllocationRule(item_kind="number", count=count, grade="STD")]
    if cards:
        rules.append(AllocationRule(item_kind="voucher", count=cards, face_value_fen=5000))
    document = allocation.allocate(
        session,
        AllocationRequest(outlet=outlet, rules=rules, order=AllocationOrder.in_order),
        "sales1",
    )
    items = [i.item for i in movements.outlet_stock(session, outlet) if i.status == "allocated"]
    receipts.receive(session, document.number, items, "clerk")
    return items


def resident_id(body: str = "33060219900101123") -> str:
    return body + resident_id_check_char(body)


def sale_event(
    terminal_no: int,
    seq: int,
    items: list[tuple[str, str, int]],
    *,
    occurred_at: datetime | None = None,
    version: int = 1,
    override: PriceOverride | None = None,
    clerk: str | None = None,
) -> SaleEvent:
    """A sale of (kind, item, price) lines paid in cash, as a terminal would push it; sold by
    the terminal's clerk (clerk_of) unless another is named."""
    lines = [
        SaleLine(
            item_kind=kind,  # type: ignore[arg-type]
            item=item,
            product="voucher:5000" if kind == "voucher" else "number:STD",
            price_fen=price,
            price_list_version=version,
            override=override,
        )
        for kind, item, price in items
    ]
    has_number = any(kind == "number" for kind, _, _ in items)
    return SaleEvent(
        id=new_id(),
        seq=seq,
        occurred_at=occurred_at or datetime.now(UTC),
        payload=SalePayload(
            sale_id=new_id(),
            receipt_no=format_receipt_number(terminal_no, seq),
            clerk=clerk or clerk_of(terminal_no),
            lines=lines,
            payments=[Payment(method="cash", amount_fen=sum(p for *_, p in items))],
            customer=Customer(name="张三", resident_id=resident_id()) if has_number else None,
        ),
    )


def context(session: Session, shop: Channel) -> TerminalContext:
    return dealers.authenticate_terminal(session, shop.credential)


def push(
    session: Session, shop: Channel, *events: Event, settings: Settings | None = None
) -> list[EventResult]:
    reply = sync.push(
        session,
        context(session, shop),
        PushRequest(events=list(events)),
        settings or Settings(database_url="sqlite://"),
        KEYS,
    )
    return reply.results


def item_status(session: Session, model: type, key: str) -> str:
    """An item's status as the database has it now (not as the session remembers it)."""
    row = session.get(model, key)
    assert row is not None
    session.refresh(row)
    return row.status  # type: ignore[attr-defined,no-any-return]


def second_terminal(session: Session, shop: Channel) -> Channel:
    """Another terminal at the same outlet, for races between two counters."""
    registered = dealers.register_terminal(
        session, TerminalCreate(outlet=shop.outlet_code, name="counter 2"), "admin1"
    )
    add_staff(session, shop.dealer_id, clerk_of(registered.terminal.terminal_no))
    return Channel(
        shop.dealer_id,
        shop.outlet_id,
        shop.outlet_code,
        registered.terminal.id,
        registered.terminal.terminal_no,
        registered.credential,
    )


def staff_login(client: TestClient, session: Session, dealer_code: str, username: str) -> dict:
    """A new dealer manager of the dealer (PIN 1234), logged in: its Authorization header."""
    dealers.create_staff(
        session,
        dealer_code,
        StaffCreate(
            username=username, password="long-password", role=Role.dealer_manager, pin="1234"
        ),
        "sales1",
    )
    reply = client.post(
        "/api/v1/auth/token", data={"username": username, "password": "long-password"}
    )
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}
