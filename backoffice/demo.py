"""`make demo`: a fresh SQLite back office with demo users, stock, a dealer whose outlet holds
stock, a registered terminal, and a running server."""

import json
import os
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from backoffice import migrate
from backoffice.contracts.billing import SegmentRequest, VoucherGenerateRequest
from backoffice.contracts.channel import (
    AllocationRequest,
    AllocationRule,
    DealerCreate,
    OutletCreate,
    StaffCreate,
    TerminalCreate,
)
from backoffice.contracts.users import UserCreate
from backoffice.core.config import Settings
from backoffice.core.crypto import Keys, pin_cipher
from backoffice.db import make_engine
from backoffice.domain.channel import AllocationOrder, DealerKind
from backoffice.domain.users import Role
from backoffice.services import users
from backoffice.services.billing import numbers, releases, sims, vouchers
from backoffice.services.channel import allocation, dealers, movements, prices, receipts
from backoffice.services.counter import sync
from shared.codes import format_receipt_number, luhn_check_digit, resident_id_check_char
from shared.ids import new_id
from shared.sync import (
    Customer,
    Event,
    EventStatus,
    Payment,
    PushRequest,
    ReturnEvent,
    ReturnPayload,
    SaleEvent,
    SaleLine,
    SalePayload,
)

# Demo-only accounts on a throwaway local database, printed at start so anyone can log in.
DEMO_USERS = (
    ("admin", Role.admin, "系统管理员"),
    ("billing", Role.billing, "营账员 王芳"),
    ("sales", Role.sales_centre, "销售中心 李强"),
    ("manager", Role.manager, "经理 陈静"),
    ("clerk", Role.clerk, "营业员 赵敏"),
)
DEMO_PASSWORD = "haoka-demo"
# The dealer's counter staff: code, role, name, PIN for the terminal.
DEMO_STAFF = (
    ("wang", Role.clerk, "营业员 王丽", "1234"),
    ("boss", Role.dealer_manager, "店长 孙伟", "8888"),
)
# What the sales centre allocates to the demo outlet, and the outlet receives.
DEMO_ALLOCATION = (
    AllocationRule(item_kind="number", count=300, grade="STD"),
    AllocationRule(item_kind="number", count=20, grade="G4"),
    AllocationRule(item_kind="number", count=5, grade="G3"),
    AllocationRule(item_kind="voucher", count=200, face_value_fen=5000),
)
TERMINAL_FILE = "demo-terminal.json"
# A second outlet with eight weeks of sales behind it, so that statistics have figures.
HISTORY_OUTLET = ("D0575-02", "人民路营业点")
HISTORY_ALLOCATION = (
    AllocationRule(item_kind="number", count=150, grade="STD"),
    AllocationRule(item_kind="number", count=15, grade="G4"),
    AllocationRule(item_kind="voucher", count=150, face_value_fen=5000),
)
HISTORY_DAYS = 56


@dataclass(frozen=True)
class DemoTerminal:
    """What the demo terminal needs to register itself; written next to the database."""

    terminal_id: str
    terminal_no: int
    credential: str
    outlet: str


def demo_sim_csv(count: int, first: int = 0) -> bytes:
    """A SIM batch file: China Mobile ICCIDs (Luhn-checked) with matching IMSIs."""
    lines = ["iccid,imsi"]
    for n in range(first, first + count):
        body = f"898600571026{n:07d}"
        lines.append(f"{body}{luhn_check_digit(body)},46000571{n:07d}")
    return ("\n".join(lines) + "\n").encode()


def seed(settings: Settings) -> DemoTerminal:
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            for username, role, full_name in DEMO_USERS:
                users.create_user(
                    session,
                    UserCreate(
                        username=username, password=DEMO_PASSWORD, role=role, full_name=full_name
                    ),
                    "demo",
                )
            segment = numbers.generate_segment(
                session, SegmentRequest(prefix="1390575", start=0, end=9999), "billing"
            )
            report = sims.import_sims(session, demo_sim_csv(10_000), "demo-sims.csv", "billing")
            sims.pair_in_order(session, segment.code, report.batch_code or "", "billing")
            releases.release_numbers(session, segment.code, "billing", "demo release")
            numbers.generate_segment(
                session, SegmentRequest(prefix="1390576", start=0, end=999), "billing"
            )
            cards = vouchers.generate_vouchers(
                session,
                VoucherGenerateRequest(
                    first_serial="10575000000000001",
                    count=1000,
                    face_value_fen=5000,
                    dealer_price_fen=4850,
                    expires_on=date(date.today().year + 2, 12, 31),
                ),
                pin_cipher(settings),
                "billing",
            )
            releases.release_vouchers(session, cards.batch.code, "billing", "demo release")
            terminal = seed_channel(session)
            seed_history(session, settings)
            return terminal
    finally:
        engine.dispose()


def seed_channel(session: Session) -> DemoTerminal:
    """A partner dealer with one outlet, its staff, stock allocated and received, a terminal."""
    dealer = dealers.create_dealer(
        session,
        DealerCreate(
            code="D0575",
            name="越城通讯",
            kind=DealerKind.partner,
            credit_limit_fen=100_000_000,
        ),
        "sales",
    )
    outlet = dealers.create_outlet(
        session,
        OutletCreate(dealer=dealer.code, code="D0575-01", name="解放路营业点"),
        "sales",
    )
    for username, role, full_name, pin in DEMO_STAFF:
        dealers.create_staff(
            session,
            dealer.code,
            StaffCreate(
                username=username,
                password=DEMO_PASSWORD,
                full_name=full_name,
                role=role,  # type: ignore[arg-type]
                outlet=outlet.code,
                pin=pin,
            ),
            "admin",
        )
    note = allocation.allocate(
        session,
        AllocationRequest(
            outlet=outlet.code, rules=list(DEMO_ALLOCATION), order=AllocationOrder.in_order
        ),
        "sales",
    )
    on_the_way = movements.outlet_stock(session, outlet.code)
    delivered = [item.item for item in on_the_way if item.status == "allocated"]
    receipts.receive(session, note.number, delivered, "wang")
    registered = dealers.register_terminal(
        session, TerminalCreate(outlet=outlet.code, name="收银台 1"), "admin"
    )
    return DemoTerminal(
        terminal_id=registered.terminal.id,
        terminal_no=registered.terminal.terminal_no,
        credential=registered.credential,
        outlet=outlet.code,
    )


def seed_history(session: Session, settings: Settings) -> int:
    """Eight weeks of counter sales (and a few returns) at a second outlet of the dealer,
    pushed through the sync service like a terminal's backlog; returns the sales made."""
    outlet = dealers.create_outlet(
        session,
        OutletCreate(dealer="D0575", code=HISTORY_OUTLET[0], name=HISTORY_OUTLET[1]),
        "sales",
    )
    note = allocation.allocate(
        session,
        AllocationRequest(
            outlet=outlet.code, rules=list(HISTORY_ALLOCATION), order=AllocationOrder.in_order
        ),
        "sales",
    )
    items = [i for i in movements.outlet_stock(session, outlet.code) if i.status == "allocated"]
    receipts.receive(session, note.number, [i.item for i in items], "wang")
    registered = dealers.register_terminal(
        session, TerminalCreate(outlet=outlet.code, name="收银台 1"), "admin"
    )
    context = dealers.authenticate_terminal(session, registered.credential)
    price_list = prices.list_in_force(session)
    price_of = prices.prices_for_dealer(session, context.dealer.id, price_list)
    shelf = {kind: [i for i in items if i.item_kind == kind] for kind in ("number", "voucher")}
    draw = random.Random(575)
    draw.shuffle(shelf["number"])
    events: list[Event] = []
    today = datetime.now(UTC).replace(hour=4, minute=0, second=0, microsecond=0)
    for days_back in range(HISTORY_DAYS, 0, -1):
        for _ in range(draw.randint(1, 5)):
            at = today - timedelta(days=days_back, minutes=draw.randint(-90, 300))
            kind = "number" if draw.random() < 0.6 else "voucher"
            if not shelf[kind]:
                continue
            item = shelf[kind].pop()
            price = price_of[item.product].retail_fen
            seq = len(events) + 1
            customer = None
            if kind == "number":
                body = f"33060219{draw.randint(60, 99):02d}0101{draw.randint(100, 999)}"
                customer = Customer(name="顾客", resident_id=body + resident_id_check_char(body))
            sale = SalePayload(
                sale_id=new_id(),
                receipt_no=format_receipt_number(registered.terminal.terminal_no, seq),
                clerk="wang",
                lines=[
                    SaleLine(
                        item_kind=kind,  # type: ignore[arg-type]
                        item=item.item,
                        product=item.product,
                        price_fen=price,
                        price_list_version=price_list.version,
                    )
                ],
                payments=[Payment(method=draw.choice(["cash", "wallet"]), amount_fen=price)],
                customer=customer,
            )
            events.append(SaleEvent(id=new_id(), seq=seq, occurred_at=at, payload=sale))
            if kind == "number" and draw.random() < 0.04:
                events.append(
                    ReturnEvent(
                        id=new_id(),
                        seq=seq + 1,
                        occurred_at=at + timedelta(hours=2),
                        payload=ReturnPayload(
                            return_id=new_id(),
                            original_receipt_no=sale.receipt_no,
                            clerk="wang",
                            items=[item.item],
                            refund_fen=price,
                        ),
                    )
                )
    reply = sync.push(
        session, context, PushRequest(events=events), settings, Keys.from_settings(settings)
    )
    refused = [r for r in reply.results if r.status is not EventStatus.accepted]
    if refused:
        raise RuntimeError(f"demo history: {len(refused)} events refused, first {refused[0]}")
    return sum(isinstance(e, SaleEvent) for e in events)


def write_terminal_file(data_dir: Path, terminal: DemoTerminal) -> Path:
    """The demo terminal's registration, readable by this user only (it holds a credential)."""
    path = data_dir / TERMINAL_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(terminal.__dict__, out)
    return path


def run_demo(data_dir: Path, port: int, host: str = "127.0.0.1") -> None:
    import uvicorn

    from backoffice.api.main import create_app
    from backoffice.core.logging import log_config

    data_dir.mkdir(parents=True, exist_ok=True)
    database = data_dir / "haoka.db"
    for stale in data_dir.glob("haoka.db*"):
        stale.unlink()
    settings = Settings(database_url=f"sqlite:///{database}", data_dir=data_dir)
    for stale in data_dir.glob(TERMINAL_FILE):
        stale.unlink()
    migrate.upgrade(settings.database_url)
    terminal = seed(settings)

    console = Console()
    base = f"http://{host}:{port}"
    console.print(f"\n[bold]HaoKa back office[/bold] on {base}  (data in {data_dir})")
    console.print(f"  Sales dashboard: {base}/dashboard   API and OpenAPI docs: {base}/docs")
    table = Table("user", "role", "password")
    for username, role, _ in DEMO_USERS:
        table.add_row(username, role.value, DEMO_PASSWORD)
    console.print(table)
    console.print(
        "Demo stock: segment 1390575 (10,000 numbers, paired and released), segment 1390576 "
        "(1,000 numbers, not yet released), 1,000 top-up cards of ¥50 (released).\n"
        f"Dealer D0575 越城通讯, outlet {terminal.outlet} holding 325 numbers and 200 cards; "
        f"counter staff {', '.join(f'{u} (PIN {pin})' for u, _, _, pin in DEMO_STAFF)}.\n"
        f"Outlet {HISTORY_OUTLET[0]} has {HISTORY_DAYS} days of sales: see them at "
        f"{base}/dashboard (log in as manager).\n"
        "Try: HAOKA_DATA_DIR=var/demo DATABASE_URL=sqlite:///var/demo/haoka.db "
        ".venv/bin/haoka-office search-numbers '*88'\n"
    )
    # Written last: its appearance tells the demo terminal that the back office is seeded.
    write_terminal_file(data_dir, terminal)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=log_config())
