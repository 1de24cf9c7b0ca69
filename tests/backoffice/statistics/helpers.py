"""Builders and a brute-force oracle for the statistics tests.

The oracle reads the raw records back (sale, sale_line, audit_entry joined to voucher) and
adds them up with nothing but zoneinfo and dictionaries, independently of the service's own
fold, calendar and summary tables."""

import csv
import io
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlmodel import Session

from backoffice.contracts.billing import VoucherGenerateRequest
from backoffice.contracts.channel import (
    AllocationRequest,
    AllocationRule,
    OutletCreate,
    TerminalCreate,
)
from backoffice.db import make_engine
from backoffice.domain.channel import AllocationOrder
from backoffice.domain.users import Role
from backoffice.models import User
from backoffice.services.billing import releases, vouchers
from backoffice.services.channel import allocation, dealers, movements, receipts
from shared.codes import format_receipt_number
from shared.ids import new_id
from shared.sync import (
    Customer,
    Payment,
    PriceOverride,
    ReturnEvent,
    ReturnPayload,
    SaleEvent,
    SaleLine,
    SalePayload,
)
from tests.backoffice.channel.helpers import CIPHER, Channel, add_staff, clerk_of, resident_id

SHANGHAI = ZoneInfo("Asia/Shanghai")


def china_day(at: datetime) -> date:
    """The business day of an instant, computed here with zoneinfo only."""
    assert at.tzinfo is not None
    return at.astimezone(SHANGHAI).date()


def china_midnight(day: date) -> datetime:
    """The UTC instant a China day starts (16:00 UTC the day before)."""
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).astimezone(UTC)


def today_in_china() -> date:
    return china_day(datetime.now(UTC))


def period(day: date, grain: str) -> date:
    if grain == "week":
        while day.weekday() != 0:
            day -= timedelta(days=1)
        return day
    if grain == "month":
        return date(day.year, day.month, 1)
    return day


# --- a fresh database per Hypothesis example --------------------------------------------------


@contextmanager
def fresh_session(templates: Any, backend: str, directory: Path) -> Iterator[Session]:
    """A session on a freshly migrated database of the backend, dropped afterwards. Built
    from the session-scoped `templates` fixture, so that each Hypothesis example starts from
    an empty database without function-scoped fixtures."""
    if backend == "sqlite":
        url = templates.sqlite_copy(directory / f"{uuid.uuid4().hex}.db")
    else:
        url = templates.pg_copy()
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()
        if backend == "sqlite":
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        else:
            templates.drop(url)


# --- building a channel ----------------------------------------------------------------------


def card_batch(session: Session, face: int, count: int, code: str, first: str) -> dict[str, str]:
    """`count` cards of `face` fen released to the pool; returns serial → PIN."""
    generated = vouchers.generate_vouchers(
        session,
        VoucherGenerateRequest(
            face_value_fen=face,
            dealer_price_fen=face - face * 3 // 100,
            expires_on=date(2099, 12, 31),
            code=code,
            first_serial=first,
            count=count,
        ),
        CIPHER,
        "billing1",
    )
    releases.release_vouchers(session, code, "billing1")
    return {row["serial"]: row["pin"] for row in csv.DictReader(io.StringIO(generated.pins_csv))}


def another_outlet(session: Session, dealer_code: str, dealer_id: str, code: str) -> Channel:
    """A further outlet of a dealer, with its own terminal."""
    shop = dealers.create_outlet(
        session, OutletCreate(dealer=dealer_code, code=code, name=f"网点 {code}"), "sales1"
    )
    registered = dealers.register_terminal(
        session, TerminalCreate(outlet=shop.code, name="counter 1"), "admin1"
    )
    add_staff(session, dealer_id, clerk_of(registered.terminal.terminal_no))
    return Channel(
        dealer_id=dealer_id,
        outlet_id=shop.id,
        outlet_code=shop.code,
        terminal_id=registered.terminal.id,
        terminal_no=registered.terminal.terminal_no,
        credential=registered.credential,
    )


def approver(session: Session, dealer_id: str, username: str) -> str:
    """A dealer manager row that only approves overrides (never logs in): written directly,
    so that property examples do not spend a password hash each."""
    session.add(
        User(
            id=new_id(),
            username=username,
            role=Role.dealer_manager.value,
            password_hash="-",
            dealer_id=dealer_id,
        )
    )
    session.commit()
    return username


@dataclass(frozen=True)
class Item:
    kind: str
    key: str
    product: str


def stock_outlet(
    session: Session, outlet_code: str, rules: list[AllocationRule], receive: bool = True
) -> tuple[str, list[Item]]:
    """Allocates by rules (in order) and receives everything; returns the delivery note's
    number and the items now at the outlet."""
    document = allocation.allocate(
        session,
        AllocationRequest(outlet=outlet_code, rules=rules, order=AllocationOrder.in_order),
        "sales1",
    )
    allocated = [i for i in movements.outlet_stock(session, outlet_code) if i.status == "allocated"]
    if receive:
        receipts.receive(session, document.number, [i.item for i in allocated], "clerk")
    return document.number, [Item(i.item_kind, i.item, i.product) for i in allocated]


def numbers(count: int, grade: str = "STD") -> AllocationRule:
    return AllocationRule(item_kind="number", count=count, grade=grade)


def cards(count: int, face: int = 5_000) -> AllocationRule:
    return AllocationRule(item_kind="voucher", count=count, face_value_fen=face)


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    item: Item
    price_fen: int
    override_by: str | None = None


def sale(
    terminal_no: int,
    seq: int,
    lines: list[Line],
    at: datetime,
    *,
    clerk: str | None = None,
    shift_id: str | None = None,
    paid_fen: int | None = None,
) -> SaleEvent:
    """A cash sale of the lines at `at`, as a terminal pushes it."""
    total = sum(line.price_fen for line in lines)
    has_number = any(line.item.kind == "number" for line in lines)
    return SaleEvent(
        id=new_id(),
        seq=seq,
        occurred_at=at,
        payload=SalePayload(
            sale_id=new_id(),
            receipt_no=format_receipt_number(terminal_no, seq),
            clerk=clerk or clerk_of(terminal_no),
            shift_id=shift_id,
            lines=[
                SaleLine(
                    item_kind=line.item.kind,  # type: ignore[arg-type]
                    item=line.item.key,
                    product=line.item.product,
                    price_fen=line.price_fen,
                    price_list_version=1,
                    override=PriceOverride(approved_by=line.override_by, reason="熟客优惠")
                    if line.override_by
                    else None,
                )
                for line in lines
            ],
            payments=[Payment(method="cash", amount_fen=paid_fen if paid_fen else total)],
            customer=Customer(name="李四", resident_id=resident_id()) if has_number else None,
        ),
    )


def give_back(
    seq: int, original: SaleEvent, items: list[str], at: datetime, clerk: str | None = None
) -> ReturnEvent:
    """A return of some of a sale's items at `at`, refunding what they were sold for."""
    refund = sum(line.price_fen for line in original.payload.lines if line.item in items)
    return ReturnEvent(
        id=new_id(),
        seq=seq,
        occurred_at=at,
        payload=ReturnPayload(
            return_id=new_id(),
            original_receipt_no=original.payload.receipt_no,
            clerk=clerk or original.payload.clerk,
            items=items,
            refund_fen=refund,
        ),
    )


def utc_at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


# --- the oracle ------------------------------------------------------------------------------

FIGURES = (
    "sold_count",
    "sold_fen",
    "dealer_fen",
    "returned_count",
    "returned_fen",
    "returned_dealer_fen",
)
COUNTERS = (
    "sold_count",
    "sold_fen",
    "dealer_fen",
    "returned_count",
    "returned_fen",
    "returned_dealer_fen",
    "redeemed_count",
    "redeemed_fen",
)


@dataclass(frozen=True)
class Fact:
    """One thing that happened: a line sold, a line returned or a card redeemed."""

    what: str  # sold | returned | redeemed
    day: date
    outlet_id: str
    dealer_id: str
    product: str
    retail_fen: int
    dealer_fen: int

    @property
    def grade(self) -> str:
        return self.product.split(":", 1)[1] if self.product.startswith("number:") else ""

    @property
    def kind(self) -> str:
        return "number" if self.product.startswith("number:") else "voucher"

    def counters(self) -> dict[str, int]:
        out = dict.fromkeys(COUNTERS, 0)
        if self.what == "sold":
            out.update(sold_count=1, sold_fen=self.retail_fen, dealer_fen=self.dealer_fen)
        elif self.what == "returned":
            out.update(
                returned_count=1,
                returned_fen=self.retail_fen,
                returned_dealer_fen=self.dealer_fen,
            )
        else:
            out.update(redeemed_count=1, redeemed_fen=self.retail_fen)
        return out


def as_utc(value: datetime | str) -> datetime:
    """A timestamp read with plain SQL: SQLite gives naive UTC text, PostgreSQL a datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass
class Raw:
    """The raw records, read straight from the tables."""

    lines: list[dict[str, Any]]
    redemptions: list[dict[str, Any]]
    outlets: dict[str, dict[str, Any]]
    dealers: dict[str, dict[str, Any]]
    grades: dict[str, str]
    facts: list[Fact] = field(default_factory=list)


def read_raw(session: Session) -> Raw:
    connection = session.connection()
    lines = [
        dict(row)
        for row in connection.execute(
            text(
                "SELECT s.id AS sale_id, s.receipt_no, s.sold_at, s.outlet_id, s.dealer_id,"
                " l.item_kind, l.item_key, l.product, l.price_fen, l.dealer_fen, l.returned_at"
                " FROM sale_line l JOIN sale s ON s.id = l.sale_id"
            )
        ).mappings()
    ]
    redemptions = [
        dict(row)
        for row in connection.execute(
            text(
                "SELECT a.at, a.entity_id AS serial, v.outlet_id, o.dealer_id, v.face_value_fen"
                " FROM audit_entry a JOIN voucher v ON v.serial = a.entity_id"
                " JOIN outlet o ON o.id = v.outlet_id"
                " WHERE a.entity_type = 'voucher' AND a.action = 'redeem'"
            )
        ).mappings()
    ]
    outlets = {
        row["id"]: dict(row)
        for row in connection.execute(
            text("SELECT id, code, name, dealer_id FROM outlet")
        ).mappings()
    }
    dealer_rows = {
        row["id"]: dict(row)
        for row in connection.execute(text("SELECT id, code, name FROM dealer")).mappings()
    }
    grades = dict(connection.execute(text("SELECT code, name FROM number_grade")).all())
    raw = Raw(lines, redemptions, outlets, dealer_rows, grades)
    for line in lines:
        sold_at = as_utc(line["sold_at"])
        args = (line["outlet_id"], line["dealer_id"], line["product"])
        money = (line["price_fen"], line["dealer_fen"])
        raw.facts.append(Fact("sold", china_day(sold_at), *args, *money))
        if line["returned_at"] is not None:
            back = china_day(as_utc(line["returned_at"]))
            raw.facts.append(Fact("returned", back, *args, *money))
    for r in redemptions:
        raw.facts.append(
            Fact(
                "redeemed",
                china_day(as_utc(r["at"])),
                r["outlet_id"],
                r["dealer_id"],
                f"voucher:{r['face_value_fen']}",
                r["face_value_fen"],
                0,
            )
        )
    return raw


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(facts: Iterable[Fact]) -> dict[str, Any]:
    total = dict.fromkeys(FIGURES, 0)
    for fact in facts:
        counters = fact.counters()
        for name in FIGURES:
            total[name] += counters[name]
    return {
        **total,
        "net_count": total["sold_count"] - total["returned_count"],
        "net_fen": total["sold_fen"] - total["returned_fen"],
        "return_rate": rate(total["returned_count"], total["sold_count"]),
        "net_dealer_fen": total["dealer_fen"] - total["returned_dealer_fen"],
    }


def in_scope(
    fact: Fact, start: date, end: date, dealer_id: str | None, outlet_id: str | None
) -> bool:
    return (
        start <= fact.day <= end
        and (dealer_id is None or fact.dealer_id == dealer_id)
        and (outlet_id is None or fact.outlet_id == outlet_id)
    )


def _sales_groups(
    raw: Raw,
    *,
    start: date,
    end: date,
    grain: str,
    by: str,
    dealer_id: str | None,
    outlet_id: str | None,
    product: str | None,
    grade: str | None,
) -> dict[tuple[date, str], list[Fact]]:
    groups: dict[tuple[date, str], list[Fact]] = defaultdict(list)
    for fact in raw.facts:
        if not in_scope(fact, start, end, dealer_id, outlet_id):
            continue
        if product and fact.product != product:
            continue
        if grade and fact.grade != grade:
            continue
        if by == "total":
            key = ""
        elif by == "dealer":
            key = fact.dealer_id
        elif by == "outlet":
            key = fact.outlet_id
        elif by == "product":
            key = fact.product
        else:
            key = fact.grade
        groups[period(fact.day, grain), key].append(fact)
    return groups


def _label(raw: Raw, by: str, key: str) -> tuple[str, str]:
    if by == "dealer":
        return raw.dealers[key]["code"], raw.dealers[key]["name"]
    if by == "outlet":
        return raw.outlets[key]["code"], raw.outlets[key]["name"]
    if by == "grade":
        return key, raw.grades[key] if key else "充值卡"
    if by == "product" and key.startswith("number:"):
        return key, raw.grades[key.removeprefix("number:")]
    if by == "product":
        face = int(key.removeprefix("voucher:"))
        return key, f"充值卡 ¥{face // 100}.{face % 100:02d}"
    return key, key


def expected_sales(
    raw: Raw,
    *,
    start: date,
    end: date,
    grain: str,
    by: str,
    dealer_id: str | None = None,
    outlet_id: str | None = None,
    product: str | None = None,
    grade: str | None = None,
) -> list[dict[str, Any]]:
    """Sales rows (period, key, name and figures) of the groups with a line sold or returned;
    a group where cards were only redeemed has no sales row."""
    groups = _sales_groups(
        raw,
        start=start,
        end=end,
        grain=grain,
        by=by,
        dealer_id=dealer_id,
        outlet_id=outlet_id,
        product=product,
        grade=grade,
    )
    rows = []
    for (when, key), facts in groups.items():
        code, name = _label(raw, by, key)
        traded = [f for f in facts if f.what != "redeemed"]
        if traded:
            rows.append({"period": when, "key": code, "name": name, **figures(traded)})
    rows.sort(key=lambda r: (r["period"], r["key"]))
    return rows


def expected_ranking(
    raw: Raw, *, start: date, end: date, kind: str, dealer_id: str | None = None
) -> list[dict[str, Any]]:
    """Ranking rows without rank, unordered: per dealer or outlet with a line sold or returned
    in the range, its figures and `outlets`, the number of its outlets with one."""
    groups: dict[str, list[Fact]] = defaultdict(list)
    for fact in raw.facts:
        if in_scope(fact, start, end, dealer_id, None):
            groups[fact.dealer_id if kind == "dealer" else fact.outlet_id].append(fact)
    rows = []
    for key, facts in groups.items():
        if kind == "dealer":
            code, name, dealer = raw.dealers[key]["code"], raw.dealers[key]["name"], key
        else:
            outlet = raw.outlets[key]
            code, name, dealer = outlet["code"], outlet["name"], outlet["dealer_id"]
        traded = [f for f in facts if f.what != "redeemed"]
        if not traded:
            continue
        rows.append(
            {
                "code": code,
                "name": name,
                "dealer_code": raw.dealers[dealer]["code"],
                "outlets": len({f.outlet_id for f in traded}),
                **figures(traded),
            }
        )
    return rows


def expected_vouchers(
    raw: Raw,
    *,
    start: date,
    end: date,
    grain: str,
    dealer_id: str | None = None,
    outlet_id: str | None = None,
) -> dict[date, dict[str, Any]]:
    """Per period with any card activated, returned or redeemed."""
    out: dict[date, dict[str, Any]] = {}
    for fact in raw.facts:
        if fact.kind != "voucher" or not in_scope(fact, start, end, dealer_id, outlet_id):
            continue
        row = out.setdefault(
            period(fact.day, grain),
            {
                "activated_count": 0,
                "activated_fen": 0,
                "returned_count": 0,
                "redeemed_count": 0,
                "redeemed_fen": 0,
            },
        )
        if fact.what == "sold":
            row["activated_count"] += 1
            row["activated_fen"] += fact.retail_fen
        elif fact.what == "returned":
            row["returned_count"] += 1
        else:
            row["redeemed_count"] += 1
            row["redeemed_fen"] += fact.retail_fen
    for row in out.values():
        row["redemption_rate"] = rate(row["redeemed_count"], row["activated_count"])
    return out


def expected_summary(raw: Raw) -> tuple[dict[tuple, dict], dict[tuple, dict]]:
    """What the two summary tables should hold: per (day, outlet, product) and per
    (day, outlet), every counter, with the dealer, grade, week and month of each row."""
    product_rows: dict[tuple, dict] = {}
    outlet_rows: dict[tuple, dict] = {}
    for fact in raw.facts:
        counters = fact.counters()
        for table, key, extra in (
            (
                product_rows,
                (fact.day, fact.outlet_id, fact.product),
                {"dealer_id": fact.dealer_id, "grade_code": fact.grade},
            ),
            (outlet_rows, (fact.day, fact.outlet_id), {"dealer_id": fact.dealer_id}),
        ):
            row = table.setdefault(
                key,
                {
                    **extra,
                    "week": period(fact.day, "week"),
                    "month": period(fact.day, "month"),
                    **dict.fromkeys(COUNTERS, 0),
                },
            )
            for name, value in counters.items():
                row[name] += value
    return product_rows, outlet_rows


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value  # type: ignore[no-any-return]


def summary_tables(session: Session) -> tuple[dict[tuple, dict], dict[tuple, dict]]:
    """The two summary tables as they are, keyed like expected_summary."""
    connection = session.connection()
    product_rows = {}
    for row in connection.execute(text("SELECT * FROM stat_sales_product")).mappings():
        values = dict(row)
        key = (_as_date(values.pop("day")), values.pop("outlet_id"), values.pop("product"))
        values["week"], values["month"] = _as_date(values["week"]), _as_date(values["month"])
        product_rows[key] = values
    outlet_rows = {}
    for row in connection.execute(text("SELECT * FROM stat_sales_outlet")).mappings():
        values = dict(row)
        key = (_as_date(values.pop("day")), values.pop("outlet_id"))
        values["week"], values["month"] = _as_date(values["week"]), _as_date(values["month"])
        outlet_rows[key] = values
    return product_rows, outlet_rows


def dumped(rows: Iterable[Any], drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Response models as plain dicts, minus some fields."""
    out = []
    for row in rows:
        values = row.model_dump() if hasattr(row, "model_dump") else dict(row)
        for name in drop:
            values.pop(name, None)
        out.append(values)
    return out
