"""The statistics routes over HTTP: filters and period buckets (weeks from Monday, months
from the 1st, days cut at China midnight), who sees what, validation, CSV and XLSX exports
equal to the JSON, stock ageing bands, shift cash differences, top-up cards activated and
redeemed, and which sales count: returns on their own day, a sale pushed twice once, a
rejected sale never."""

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, text, update
from sqlmodel import Session, select

from backoffice.contracts.channel import TransferIn
from backoffice.contracts.statistics import ShiftCashRow
from backoffice.core.config import Settings
from backoffice.core.crypto import Cipher, pin_cipher
from backoffice.domain.calendar import month_of
from backoffice.domain.users import Role
from backoffice.models import Shift
from backoffice.models.counter import ShiftCashMonth
from backoffice.services.channel import movements, receipts
from backoffice.services.settlement import shifts as shift_reconciliation
from backoffice.services.statistics import queries
from backoffice.services.statistics.queries import Scope
from shared.ids import new_id
from shared.sync import (
    EventStatus,
    ShiftCloseEvent,
    ShiftClosePayload,
    ShiftOpenEvent,
    ShiftOpenPayload,
)
from tests.backoffice.channel.helpers import (
    Channel,
    add_staff,
    channel,
    pool,
    push,
    staff_login,
)
from tests.backoffice.settlement.helpers import LONG_WINDOW
from tests.backoffice.statistics.helpers import (
    Item,
    Line,
    another_outlet,
    cards,
    give_back,
    numbers,
    sale,
    stock_outlet,
    today_in_china,
    utc_at,
)

Login = Callable[[Role], dict[str, str]]
API = "/api/v1/statistics"
REPORTS = (
    "sales",
    "dealer-ranking",
    "top-outlets",
    "vouchers",
    "stock",
    "sell-through",
    "shift-cash",
)
# June 2026: the 28th is a Sunday, the 29th a Monday, July 1st a Wednesday.
SUNDAY, MONDAY, JULY_1 = date(2026, 6, 28), date(2026, 6, 29), date(2026, 7, 1)


class Till:
    """Pushes events from the outlets' terminals with rising sequence numbers."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.seq: dict[str, int] = {}

    def next(self, shop: Channel) -> int:
        self.seq[shop.terminal_id] = self.seq.get(shop.terminal_id, 0) + 1
        return self.seq[shop.terminal_id]

    def sell(self, shop: Channel, at: datetime, *lines: Line, **extra: Any):  # type: ignore[no-untyped-def]
        event = sale(shop.terminal_no, self.next(shop), list(lines), at, **extra)
        (result,) = push(self.session, shop, event, settings=LONG_WINDOW)
        assert result.status is EventStatus.accepted, result
        return event

    def give_back(self, shop: Channel, original, items: list[str], at: datetime) -> None:  # type: ignore[no-untyped-def]
        event = give_back(self.next(shop), original, items, at)
        (result,) = push(self.session, shop, event, settings=LONG_WINDOW)
        assert result.status is EventStatus.accepted, result


def _of(items: list[Item], product: str) -> list[Item]:
    return [i for i in items if i.product == product]


class Shops:
    """D1 with outlets D1-O1 and D1-O2, D2 with D2-O1, each stocked with standard and G3
    numbers and ¥50 cards."""

    def __init__(self, session: Session, card_cipher: Cipher | None = None) -> None:
        kwargs = {"cipher": card_cipher} if card_cipher else {}
        pins_csv = pool(session, cards=30, **kwargs)
        assert pins_csv is not None
        self.pins = {r["serial"]: r["pin"] for r in csv.DictReader(io.StringIO(pins_csv))}
        self.d1 = channel(session, "D1")
        self.d1b = another_outlet(session, "D1", self.d1.dealer_id, "D1-O2")
        self.d2 = channel(session, "D2")
        self.till = Till(session)
        self.items: dict[str, list[Item]] = {}
        for shop in (self.d1, self.d1b, self.d2):
            _, items = stock_outlet(
                session, shop.outlet_code, [numbers(4), numbers(2, "G3"), cards(5)]
            )
            self.items[shop.outlet_code] = items

    def take(self, shop: Channel, product: str) -> Item:
        item = _of(self.items[shop.outlet_code], product)[0]
        self.items[shop.outlet_code].remove(item)
        return item


def _get(client: TestClient, report: str, headers: dict[str, str], **params: Any) -> Any:
    reply = client.get(f"{API}/{report}", params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _brief(rows: list[dict[str, Any]], *names: str) -> list[tuple[Any, ...]]:
    return [tuple(row[n] for n in names) for row in rows]


def _four_sales(session: Session) -> Shops:
    """Sales either side of China midnight at the turn of a week and of a month:
    D1-O1: a ¥50 STD number on Sunday 28 June 23:59 and a ¥600 G3 number on Monday 29 June
    00:00 (China time); D1-O2: a ¥50 card on Tuesday 30 June 23:59; D2-O1: a ¥50 STD number
    and a ¥50 card on Wednesday 1 July 00:00."""
    shops = Shops(session)
    till = shops.till
    till.sell(shops.d1, utc_at(SUNDAY, 15, 59), Line(shops.take(shops.d1, "number:STD"), 5_000))
    till.sell(shops.d1, utc_at(SUNDAY, 16, 0), Line(shops.take(shops.d1, "number:G3"), 60_000))
    till.sell(
        shops.d1b,
        utc_at(date(2026, 6, 30), 15, 59),
        Line(shops.take(shops.d1b, "voucher:5000"), 5_000),
    )
    till.sell(
        shops.d2,
        utc_at(date(2026, 6, 30), 16, 0),
        Line(shops.take(shops.d2, "number:STD"), 5_000),
        Line(shops.take(shops.d2, "voucher:5000"), 5_000),
    )
    return shops


WINDOW = {"start": "2026-06-20", "end": "2026-07-10"}


def test_sales_per_day_week_and_month_cut_at_china_midnight(
    session: Session, client: TestClient, login: Login
) -> None:
    _four_sales(session)
    manager = login(Role.manager)
    days = _get(client, "sales", manager, **WINDOW)
    assert _brief(days, "period", "key", "sold_count", "sold_fen", "dealer_fen") == [
        ("2026-06-28", "", 1, 5_000, 5_000),
        ("2026-06-29", "", 1, 60_000, 60_000),
        ("2026-06-30", "", 1, 5_000, 4_850),
        ("2026-07-01", "", 2, 10_000, 9_850),
    ]
    assert all(row["return_rate"] == 0.0 and row["net_fen"] == row["sold_fen"] for row in days)
    weeks = _get(client, "sales", manager, grain="week", **WINDOW)
    assert _brief(weeks, "period", "sold_count", "sold_fen") == [
        ("2026-06-22", 1, 5_000),
        ("2026-06-29", 4, 75_000),
    ]
    months = _get(client, "sales", manager, grain="month", **WINDOW)
    assert _brief(months, "period", "sold_count", "sold_fen") == [
        ("2026-06-01", 3, 70_000),
        ("2026-07-01", 2, 10_000),
    ]
    by_dealer = _get(client, "sales", manager, grain="month", by="dealer", **WINDOW)
    assert _brief(by_dealer, "period", "key", "name", "sold_fen") == [
        ("2026-06-01", "D1", "dealer D1", 70_000),
        ("2026-07-01", "D2", "dealer D2", 10_000),
    ]
    # A range that ends on Sunday leaves out Monday 00:00, and one that starts on 1 July
    # leaves out 30 June 23:59.
    sunday = _get(client, "sales", manager, start="2026-06-01", end="2026-06-28")
    assert _brief(sunday, "period", "sold_fen") == [("2026-06-28", 5_000)]
    july = _get(client, "sales", manager, grain="month", start="2026-07-01", end="2026-07-31")
    assert _brief(july, "period", "sold_count") == [("2026-07-01", 2)]


def test_sales_filters_by_dealer_outlet_product_and_grade(
    session: Session, client: TestClient, login: Login
) -> None:
    _four_sales(session)
    centre = login(Role.sales_centre)

    def total(**params: Any) -> list[tuple[Any, ...]]:
        rows = _get(client, "sales", centre, grain="month", **WINDOW, **params)
        return _brief(rows, "period", "key", "sold_count", "sold_fen")

    assert total(dealer="D1") == [("2026-06-01", "", 3, 70_000)]
    dealer_id = (
        session.connection().execute(text("SELECT id FROM dealer WHERE code = 'D2'")).one()[0]
    )
    assert total(dealer=dealer_id) == [("2026-07-01", "", 2, 10_000)]
    assert total(dealer="D1", by="outlet") == [
        ("2026-06-01", "D1-O1", 2, 65_000),
        ("2026-06-01", "D1-O2", 1, 5_000),
    ]
    assert total(outlet="D1-O2") == [("2026-06-01", "", 1, 5_000)]
    assert total(product="number:STD", by="dealer") == [
        ("2026-06-01", "D1", 1, 5_000),
        ("2026-07-01", "D2", 1, 5_000),
    ]
    assert total(grade="G3") == [("2026-06-01", "", 1, 60_000)]
    assert total(grade="G3", dealer="D2") == []
    assert total(product="voucher:5000", by="outlet") == [
        ("2026-06-01", "D1-O2", 1, 5_000),
        ("2026-07-01", "D2-O1", 1, 5_000),
    ]
    grades = _get(client, "sales", centre, by="grade", **WINDOW)
    assert _brief(grades, "period", "key", "name", "sold_count") == [
        ("2026-06-28", "STD", "普通号", 1),
        ("2026-06-29", "G3", "三级靓号", 1),
        ("2026-06-30", "", "充值卡", 1),
        ("2026-07-01", "", "充值卡", 1),
        ("2026-07-01", "STD", "普通号", 1),
    ]
    products = _get(client, "sales", centre, grain="week", by="product", **WINDOW)
    assert _brief(products, "period", "key", "sold_count") == [
        ("2026-06-22", "number:STD", 1),
        ("2026-06-29", "number:G3", 1),
        ("2026-06-29", "number:STD", 1),
        ("2026-06-29", "voucher:5000", 2),
    ]
    # An unknown dealer or outlet is 404, an outlet of another dealer too.
    for params in ({"dealer": "D9"}, {"outlet": "X-1"}, {"dealer": "D2", "outlet": "D1-O1"}):
        reply = client.get(f"{API}/sales", params={**WINDOW, **params}, headers=centre)
        assert reply.status_code == 404, (params, reply.text)


def test_rankings_by_net_sales(session: Session, client: TestClient, login: Login) -> None:
    shops = _four_sales(session)
    till = shops.till
    # D2 sells a G3 number, returned later: D2's net stays ¥100.
    sold = till.sell(
        shops.d2, utc_at(date(2026, 7, 2), 4), Line(shops.take(shops.d2, "number:G3"), 60_000)
    )
    till.give_back(shops.d2, sold, [sold.payload.lines[0].item], utc_at(date(2026, 7, 3), 4))
    manager = login(Role.manager)
    dealers = _get(client, "dealer-ranking", manager, **WINDOW)
    assert _brief(
        dealers, "rank", "code", "outlets", "sold_fen", "returned_fen", "net_fen", "return_rate"
    ) == [
        (1, "D1", 2, 70_000, 0, 70_000, 0.0),
        (2, "D2", 1, 70_000, 60_000, 10_000, 0.3333),
    ]
    outlets = _get(client, "top-outlets", manager, **WINDOW)
    assert _brief(outlets, "rank", "code", "dealer_code", "net_fen") == [
        (1, "D1-O1", "D1", 65_000),
        (2, "D2-O1", "D2", 10_000),
        (3, "D1-O2", "D1", 5_000),
    ]
    assert _brief(_get(client, "top-outlets", manager, limit=1, **WINDOW), "code") == [("D1-O1",)]
    mine = _get(client, "top-outlets", manager, dealer="D1", **WINDOW)
    assert [row["code"] for row in mine] == ["D1-O1", "D1-O2"]


def test_a_dealer_manager_sees_only_the_own_dealer(
    session: Session, client: TestClient, login: Login
) -> None:
    _four_sales(session)
    boss = staff_login(client, session, "D1", "boss1")
    totals = _get(client, "sales", boss, grain="month", **WINDOW)
    assert _brief(totals, "period", "sold_fen") == [("2026-06-01", 70_000)]
    assert _get(client, "sales", boss, dealer="D1", grain="month", **WINDOW) == totals
    assert [r["code"] for r in _get(client, "dealer-ranking", boss, **WINDOW)] == ["D1"]
    assert [r["code"] for r in _get(client, "top-outlets", boss, **WINDOW)] == ["D1-O1", "D1-O2"]
    assert {r["outlet_code"] for r in _get(client, "stock", boss)} == {"D1-O1", "D1-O2"}
    assert {r["outlet_code"] for r in _get(client, "sell-through", boss, **WINDOW)} == {
        "D1-O1",
        "D1-O2",
    }
    assert _get(client, "vouchers", boss, **WINDOW)[0]["period"] == "2026-06-30"
    for report in REPORTS:
        params = {} if report == "stock" else dict(WINDOW)
        for suffix in ("", "/csv", "/xlsx"):
            other = client.get(
                f"{API}/{report}{suffix}", params={**params, "dealer": "D2"}, headers=boss
            )
            assert other.status_code == 403, (report, suffix, other.text)
            theirs = client.get(
                f"{API}/{report}{suffix}", params={**params, "outlet": "D2-O1"}, headers=boss
            )
            assert theirs.status_code == 404, (report, suffix, theirs.text)
            assert theirs.json()["code"] == "outlet_not_found"


def test_the_dashboard_keeps_a_dealer_manager_to_the_own_dealer(
    session: Session, client: TestClient, login: Login
) -> None:
    _four_sales(session)
    boss = staff_login(client, session, "D1", "boss1")
    day = {"day": "2026-06-30"}
    board = client.get(f"{API}/dashboard", params=day, headers=boss)
    assert board.status_code == 200, board.text
    assert [r["key"] for r in board.json()["sales_by_dealer"]] == ["D1"]
    assert {r["dealer_code"] for r in board.json()["top_outlets"]} == {"D1"}
    # In July only D2 has sold: the manager sees it, the D1 manager sees nothing.
    july = {"day": "2026-07-01"}
    everyone = client.get(f"{API}/dashboard", params=july, headers=login(Role.manager)).json()
    assert [r["key"] for r in everyone["sales_by_dealer"]] == ["D2"]
    own = client.get(f"{API}/dashboard", params=july, headers=boss).json()
    assert (own["sales_by_dealer"], own["top_outlets"]) == ([], [])
    assert [r["period"] for r in own["sales_by_day"]] == []
    other = client.get(f"{API}/dashboard", params={**day, "dealer": "D2"}, headers=boss)
    assert other.status_code == 403
    assert client.get(f"{API}/dashboard", params=day, headers=login(Role.clerk)).status_code == 403


def test_a_product_filter_must_be_a_product_key(client: TestClient, login: Login) -> None:
    reply = client.get(
        f"{API}/sales", params={**WINDOW, "product": "G1"}, headers=login(Role.manager)
    )
    assert reply.status_code == 422
    assert "product 'G1' is not number:<grade>" in reply.text


@pytest.mark.parametrize("role", [Role.clerk, Role.billing, Role.charging, Role.provisioning])
def test_other_roles_are_refused(client: TestClient, login: Login, role: Role) -> None:
    headers = login(role)
    for report in REPORTS:
        params = {} if report == "stock" else dict(WINDOW)
        assert client.get(f"{API}/{report}", params=params, headers=headers).status_code == 403
        assert client.get(f"{API}/{report}/csv", params=params, headers=headers).status_code == 403
        assert client.get(f"{API}/{report}", params=params).status_code == 401


def test_invalid_ranges_and_parameters_are_refused_with_a_reason(
    client: TestClient, login: Login
) -> None:
    manager = login(Role.manager)
    for report in (r for r in REPORTS if r != "stock"):
        backwards = client.get(
            f"{API}/{report}", params={"start": "2026-07-02", "end": "2026-07-01"}, headers=manager
        )
        assert backwards.status_code == 422, (report, backwards.text)
        assert "end 2026-07-01 is before start 2026-07-02" in backwards.text
        too_long = client.get(
            f"{API}/{report}", params={"start": "2024-01-01", "end": "2026-07-01"}, headers=manager
        )
        assert too_long.status_code == 422, (report, too_long.text)
        assert "spans more than 800 days" in too_long.text
        missing = client.get(f"{API}/{report}", params={"end": "2026-07-01"}, headers=manager)
        assert missing.status_code == 422 and "start" in missing.text
        csv_backwards = client.get(
            f"{API}/{report}/csv",
            params={"start": "2026-07-02", "end": "2026-07-01"},
            headers=manager,
        )
        assert csv_backwards.status_code == 422
    # The longest span allowed is 800 days.
    ok = client.get(
        f"{API}/sales", params={"start": "2024-05-22", "end": "2026-07-31"}, headers=manager
    )
    assert ok.status_code == 200, ok.text
    for params in (
        {"grain": "year"},
        {"by": "clerk"},
        {"start": "2026-02-30"},
    ):
        reply = client.get(f"{API}/sales", params={**WINDOW, **params}, headers=manager)
        assert reply.status_code == 422, (params, reply.text)
    for limit in (0, 1_001):
        reply = client.get(
            f"{API}/dealer-ranking", params={**WINDOW, "limit": limit}, headers=manager
        )
        assert reply.status_code == 422
    assert client.get(f"{API}/sales/pdf", params=WINDOW, headers=manager).status_code == 422


HEADERS = {
    "sales": [
        "期间",
        "编码",
        "名称",
        "销量",
        "销售额(分)",
        "结算额(分)",
        "退货量",
        "退货额(分)",
        "净销量",
        "净销售额(分)",
        "退货率",
        "退货结算额(分)",
        "净结算额(分)",
    ],
    "dealer-ranking": [
        "名次",
        "代理商",
        "名称",
        "网点数",
        "销量",
        "销售额(分)",
        "结算额(分)",
        "退货量",
        "退货额(分)",
        "净销量",
        "净销售额(分)",
        "退货率",
        "退货结算额(分)",
        "净结算额(分)",
    ],
    "top-outlets": [
        "名次",
        "网点",
        "名称",
        "代理商",
        "销量",
        "销售额(分)",
        "结算额(分)",
        "退货量",
        "退货额(分)",
        "净销量",
        "净销售额(分)",
        "退货率",
        "退货结算额(分)",
        "净结算额(分)",
    ],
    "vouchers": [
        "期间",
        "激活张数",
        "激活面值(分)",
        "退货张数",
        "兑换张数",
        "兑换面值(分)",
        "兑换率",
    ],
    "stock": [
        "网点",
        "名称",
        "代理商",
        "类别",
        "在库",
        "已预占",
        "0-30天",
        "31-60天",
        "61-90天",
        "90天以上",
        "最长库龄(天)",
        "平均库龄(天)",
    ],
    "sell-through": ["网点", "名称", "代理商", "类别", "到货", "售出", "退货", "在库", "售罄率"],
    "shift-cash": [
        "网点",
        "名称",
        "营业员",
        "班次",
        "有差异班次",
        "应有现金(分)",
        "实点现金(分)",
        "差额(分)",
        "最大短款(分)",
        "无销售开钱箱",
    ],
}
FIELDS = {
    "sales": ["period", "key", "name"],
    "dealer-ranking": ["rank", "code", "name", "outlets"],
    "top-outlets": ["rank", "code", "name", "dealer_code"],
}
_FIGURES = [
    "sold_count",
    "sold_fen",
    "dealer_fen",
    "returned_count",
    "returned_fen",
    "net_count",
    "net_fen",
    "return_rate",
    "returned_dealer_fen",
    "net_dealer_fen",
]
FIELDS = {name: [*fields, *_FIGURES] for name, fields in FIELDS.items()} | {
    "vouchers": [
        "period",
        "activated_count",
        "activated_fen",
        "returned_count",
        "redeemed_count",
        "redeemed_fen",
        "redemption_rate",
    ],
    "stock": [
        "outlet_code",
        "outlet_name",
        "dealer_code",
        "item_kind",
        "on_hand",
        "reserved",
        "days_0_30",
        "days_31_60",
        "days_61_90",
        "days_over_90",
        "oldest_days",
        "average_days",
    ],
    "sell-through": [
        "outlet_code",
        "outlet_name",
        "dealer_code",
        "item_kind",
        "received",
        "sold",
        "returned",
        "on_hand",
        "sell_through",
    ],
    "shift-cash": [
        "outlet_code",
        "outlet_name",
        "clerk",
        "shifts",
        "shifts_with_difference",
        "expected_cash_fen",
        "counted_cash_fen",
        "difference_fen",
        "largest_shortage_fen",
        "no_sale_openings",
    ],
}
TITLES = {
    "sales": "销售统计",
    "dealer-ranking": "代理商排名",
    "top-outlets": "网点排名",
    "vouchers": "充值卡激活与兑换",
    "stock": "库存与库龄",
    "sell-through": "售罄率",
    "shift-cash": "交班现金差异",
}


def _csv_cell(value: Any) -> str:
    return "" if value is None else str(value)


def test_every_report_exports_csv_and_xlsx_equal_to_its_json(
    session: Session, client: TestClient, login: Login
) -> None:
    shops = _four_sales(session)
    till = shops.till
    sold = till.sell(
        shops.d1, utc_at(date(2026, 7, 2), 4), Line(shops.take(shops.d1, "voucher:5000"), 5_000)
    )
    till.give_back(shops.d1, sold, [sold.payload.lines[0].item], utc_at(date(2026, 7, 3), 4))
    add_staff(session, shops.d1.dealer_id, "张店员")
    _shift(session, till, shops, shops.d1, "张店员", counted=24_700)
    today = today_in_china()
    window = {"start": "2026-06-01", "end": str(today)}
    manager = login(Role.manager)
    for report in REPORTS:
        params = {} if report == "stock" else {**window, "grain": "week", "by": "outlet"}
        if report not in ("sales", "vouchers"):
            params.pop("grain", None)
        if report != "sales":
            params.pop("by", None)
        rows = _get(client, report, manager, **params)
        assert rows, report
        expected = [[row[name] for name in FIELDS[report]] for row in rows]
        assert all(set(FIELDS[report]) <= set(row) for row in rows), report

        exported = client.get(f"{API}/{report}/csv", params=params, headers=manager)
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.headers["content-disposition"].startswith(
            f'attachment; filename="{report}.csv"'
        )
        assert exported.content.startswith(b"\xef\xbb\xbf"), report
        table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert table[0] == HEADERS[report], report
        assert table[1:] == [[_csv_cell(v) for v in row] for row in expected], report

        book = client.get(f"{API}/{report}/xlsx", params=params, headers=manager)
        assert book.status_code == 200, book.text
        assert book.headers["content-disposition"].startswith(
            f'attachment; filename="{report}.xlsx"'
        )
        sheet = load_workbook(io.BytesIO(book.content)).active
        assert sheet.title == TITLES[report]
        cells = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert cells[0] == HEADERS[report], report
        assert cells[1:] == expected, report
    # The figures in the sales export are those of the JSON, the Chinese names included.
    by_grade = client.get(
        f"{API}/sales/csv", params={**window, "by": "grade", "grain": "month"}, headers=manager
    )
    lines = by_grade.content.decode("utf-8-sig").splitlines()
    assert "2026-06-01,G3,三级靓号,1,60000,60000,0,0,1,60000,0.0,0,60000" in lines


def _age_documents(session: Session, number: str, days: int) -> None:
    """Moves a delivery note's creation back by `days` (same time of day)."""
    session.connection().execute(
        text("UPDATE stock_document SET created_at = :at WHERE number = :number"),
        {"at": (datetime.now(UTC) - timedelta(days=days)).replace(tzinfo=None), "number": number},
    )
    session.commit()


def test_stock_on_hand_by_age_band(session: Session, client: TestClient, login: Login) -> None:
    pool(session, cards=10)
    shop = channel(session)
    channel(session, "D2")
    ages = {0: 1, 30: 2, 31: 3, 60: 1, 61: 2, 90: 1, 91: 2, 400: 1}
    for age, count in ages.items():
        number, _ = stock_outlet(session, shop.outlet_code, [numbers(count)])
        _age_documents(session, number, age)
    card_note, card_items = stock_outlet(session, shop.outlet_code, [cards(4)])
    _age_documents(session, card_note, 45)
    # Allocated but not yet received: not on hand.
    stock_outlet(session, shop.outlet_code, [numbers(5)], receive=False)
    # A card sold and one number sold are no longer on hand.
    till = Till(session)
    till.sell(shop, datetime.now(UTC) - timedelta(minutes=5), Line(card_items[0], 5_000))
    numbers_here = [
        Item("number", row[0], "number:STD")
        for row in session.connection().execute(
            text(
                "SELECT n.msisdn FROM mobile_number n JOIN stock_document d ON d.id = n.document_id"
                " WHERE d.number = (SELECT number FROM stock_document WHERE kind = 'DN'"
                " AND created_at = (SELECT MIN(created_at) FROM stock_document WHERE kind = 'DN'))"
            )
        )
    ]
    till.sell(shop, datetime.now(UTC) - timedelta(minutes=5), Line(numbers_here[0], 5_000))
    manager = login(Role.manager)
    rows = {r["item_kind"]: r for r in _get(client, "stock", manager)}
    assert set(rows) == {"number", "voucher"}
    number_row = rows["number"]
    assert number_row["outlet_code"] == "D1-O1" and number_row["dealer_code"] == "D1"
    assert (number_row["on_hand"], number_row["reserved"]) == (12, 0)
    assert (
        number_row["days_0_30"],
        number_row["days_31_60"],
        number_row["days_61_90"],
        number_row["days_over_90"],
    ) == (3, 4, 3, 2)
    assert number_row["oldest_days"] == 91
    total_age = 0 + 30 * 2 + 31 * 3 + 60 + 61 * 2 + 90 + 91 * 2
    assert number_row["average_days"] == round(total_age / 12, 1)
    card_row = rows["voucher"]
    assert (card_row["on_hand"], card_row["days_31_60"], card_row["oldest_days"]) == (3, 3, 45)
    assert card_row["average_days"] == 45.0
    assert _get(client, "stock", manager, dealer="D2") == []
    assert len(_get(client, "stock", manager, outlet="D1-O1")) == 2


def _shift(
    session: Session,
    till: Till,
    shops: Shops,
    shop: Channel,
    clerk: str,
    counted: int,
    hours_ago: float = 1,
    no_sale: int = 0,
) -> None:
    """A shift with a float of ¥200 and one ¥50 cash sale, closed with `counted` fen and
    `no_sale` drawer openings without a sale."""
    shift_id = new_id()
    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    opened = ShiftOpenEvent(
        id=new_id(),
        seq=till.next(shop),
        occurred_at=at,
        payload=ShiftOpenPayload(shift_id=shift_id, clerk=clerk, opening_float_fen=20_000),
    )
    sold = sale(
        shop.terminal_no,
        till.next(shop),
        [Line(shops.take(shop, "number:STD"), 5_000)],
        at + timedelta(minutes=1),
        clerk=clerk,
        shift_id=shift_id,
    )
    closed = ShiftCloseEvent(
        id=new_id(),
        seq=till.next(shop),
        occurred_at=at + timedelta(minutes=2),
        payload=ShiftClosePayload(
            shift_id=shift_id,
            counted_cash_fen=counted,
            z_number=opened.seq,
            no_sale_openings=no_sale,
        ),
    )
    results = push(session, shop, opened, sold, closed, settings=LONG_WINDOW)
    assert {r.status for r in results} == {EventStatus.accepted}, results


def test_shift_cash_differences_per_outlet_and_clerk(
    session: Session, client: TestClient, login: Login
) -> None:
    shops = Shops(session)
    till = shops.till
    add_staff(session, shops.d1.dealer_id, "clerk1", "clerk2")
    add_staff(session, shops.d2.dealer_id, "clerk9")
    # Expected cash is always ¥250: 200 float + 50 sold.
    _shift(session, till, shops, shops.d1, "clerk1", counted=24_700, hours_ago=0.5, no_sale=2)
    _shift(session, till, shops, shops.d1, "clerk1", counted=25_200, hours_ago=0.4, no_sale=3)
    _shift(session, till, shops, shops.d1, "clerk2", counted=25_000, hours_ago=0.3, no_sale=1)
    _shift(session, till, shops, shops.d1b, "clerk1", counted=24_000, hours_ago=0.2)
    _shift(session, till, shops, shops.d2, "clerk9", counted=24_900, hours_ago=0.1)
    today = today_in_china()
    window = {"start": str(today - timedelta(days=1)), "end": str(today)}
    manager = login(Role.manager)
    rows = _get(client, "shift-cash", manager, **window)
    assert _brief(
        rows,
        "outlet_code",
        "clerk",
        "shifts",
        "shifts_with_difference",
        "expected_cash_fen",
        "counted_cash_fen",
        "difference_fen",
        "largest_shortage_fen",
    ) == [
        ("D1-O1", "clerk1", 2, 2, 50_000, 49_900, -100, -300),
        ("D1-O1", "clerk2", 1, 0, 25_000, 25_000, 0, 0),
        ("D1-O2", "clerk1", 1, 1, 25_000, 24_000, -1_000, -1_000),
        ("D2-O1", "clerk9", 1, 1, 25_000, 24_900, -100, -100),
    ]
    assert rows[0]["outlet_name"] == "outlet of D1"
    # Drawer openings without a sale, added up per outlet and clerk.
    assert _brief(rows, "clerk", "no_sale_openings") == [
        ("clerk1", 5),
        ("clerk2", 1),
        ("clerk1", 0),
        ("clerk9", 0),
    ]
    csv_text = client.get(f"{API}/shift-cash/csv", params=window, headers=manager).text
    header, *lines = csv_text.lstrip("\ufeff").splitlines()
    assert header.split(",")[-1] == "无销售开钱箱"
    assert [line.split(",")[-1] for line in lines] == ["5", "1", "0", "0"]
    clerk1 = _get(client, "shift-cash", manager, clerk="clerk1", **window)
    assert _brief(clerk1, "outlet_code", "difference_fen") == [("D1-O1", -100), ("D1-O2", -1_000)]
    assert _brief(_get(client, "shift-cash", manager, dealer="D2", **window), "clerk") == [
        ("clerk9",)
    ]
    assert _brief(_get(client, "shift-cash", manager, outlet="D1-O2", **window), "clerk") == [
        ("clerk1",)
    ]
    # Shifts count on the China day they closed: none closed tomorrow or before yesterday.
    later = {"start": str(today + timedelta(days=1)), "end": str(today + timedelta(days=2))}
    assert _get(client, "shift-cash", manager, **later) == []
    boss = staff_login(client, session, "D2", "boss2")
    assert _brief(_get(client, "shift-cash", boss, **window), "outlet_code") == [("D2-O1",)]


def test_shift_cash_adds_up_the_z_reports_in_sql(session: Session) -> None:
    """Per outlet and clerk, in totals, a page at a time and for the charts, the shift cash
    read in SQL is what the period's Z reports add up to."""
    shops = Shops(session)
    till = shops.till
    add_staff(session, shops.d1.dealer_id, "clerk1", "clerk2")
    add_staff(session, shops.d2.dealer_id, "clerk9")
    _shift(session, till, shops, shops.d1, "clerk1", counted=24_700, hours_ago=0.5, no_sale=2)
    _shift(session, till, shops, shops.d1, "clerk1", counted=25_200, hours_ago=0.4, no_sale=3)
    _shift(session, till, shops, shops.d1, "clerk2", counted=25_000, hours_ago=0.3, no_sale=1)
    _shift(session, till, shops, shops.d1b, "clerk1", counted=24_000, hours_ago=0.2)
    _shift(session, till, shops, shops.d2, "clerk9", counted=24_900, hours_ago=0.1)
    today = today_in_china()
    start, end = today - timedelta(days=1), today
    added = _z_reports_added(session, start, end)
    everyone = Scope()
    assert queries.shift_cash(session, start, end, everyone) == added
    # The month to date: read from its sums (the rest of the month is yet to come).
    assert queries.shift_cash(session, month_of(start), end, everyone) == _z_reports_added(
        session, month_of(start), end
    )
    assert [(r.outlet_code, r.clerk, r.shifts) for r in added] == [
        ("D1-O1", "clerk1", 2),
        ("D1-O1", "clerk2", 1),
        ("D1-O2", "clerk1", 1),
        ("D2-O1", "clerk9", 1),
    ]

    # The totals of the period, alone or with its rows; none closed the days before.
    total = queries.ShiftCashTotals(
        shifts=5,
        shifts_with_difference=4,
        expected_cash_fen=125_000,
        counted_cash_fen=123_800,
        difference_fen=-1_200,
        no_sale_openings=6,
    )
    assert queries.shift_cash_totals(session, start, end, everyone) == total
    assert queries.shift_cash_view(session, start, end, everyone, limit=1).totals == total
    before = (start - timedelta(days=2), start - timedelta(days=1))
    assert queries.shift_cash_totals(session, *before, everyone) == queries.ShiftCashTotals()
    d1 = Scope(dealer_id=shops.d1.dealer_id)
    clerk1 = queries.shift_cash_totals(session, start, end, d1, "clerk1")
    assert (clerk1.shifts, clerk1.difference_fen) == (3, -1_100)
    assert queries.shift_cash_view(session, start, end, d1, "clerk1").totals == clerk1
    outlet = queries.shift_cash_totals(session, start, end, Scope(outlet_id=shops.d2.outlet_id))
    assert (outlet.shifts, outlet.counted_cash_fen) == (1, 24_900)

    # Pages of two: all the rows once, in order, then no next page.
    pages, cursor = [], None
    while True:
        view = queries.shift_cash_view(session, start, end, everyone, after=cursor, limit=2)
        pages.append(view.rows)
        cursor = view.next_after
        if cursor is None:
            break
    assert pages == [added[:2], added[2:]]
    # Anything but a cursor gives the first page.
    first = queries.shift_cash_view(session, start, end, everyone, limit=2)
    assert first.rows == added[:2] and first.next_after is not None
    assert (
        queries.shift_cash_view(session, start, end, everyone, after="nonsense", limit=2) == first
    )
    clerk1 = queries.shift_cash_view(session, start, end, d1, "clerk1", limit=2)
    assert (clerk1.rows, clerk1.next_after) == ([added[0], added[2]], None)

    # The charts' rows, the same whatever the page: the largest shortage in a shift first
    # (only rows with one); no-sale openings, most first (only rows with some).
    assert [(r.outlet_code, r.clerk, r.largest_shortage_fen) for r in first.shortages] == [
        ("D1-O2", "clerk1", -1_000),
        ("D1-O1", "clerk1", -300),
        ("D2-O1", "clerk9", -100),
    ]
    assert [(r.clerk, r.no_sale_openings) for r in first.no_sale] == [
        ("clerk1", 5),
        ("clerk2", 1),
    ]
    assert (clerk1.shortages, clerk1.no_sale) == ([added[2], added[0]], [added[0]])
    top = queries.shift_cash_view(session, start, end, everyone, chart=1)
    assert (top.shortages, top.no_sale) == (first.shortages[:1], first.no_sale[:1])


def _z_reports_added(session: Session, start: date, end: date) -> list[ShiftCashRow]:
    """shift_cash as the Z reports of the period add it up, in Python."""
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for report in shift_reconciliation.z_reports(session, start=start, end=end, limit=None):
        groups[report.outlet_code, report.clerk].append(report)
    return [
        ShiftCashRow(
            outlet_code=outlet,
            outlet_name=shifts[0].outlet_name,
            clerk=clerk,
            shifts=len(shifts),
            shifts_with_difference=sum(1 for s in shifts if s.difference_fen),
            expected_cash_fen=sum(s.expected_cash_fen for s in shifts),
            counted_cash_fen=sum(s.counted_cash_fen for s in shifts),
            difference_fen=sum(s.difference_fen for s in shifts),
            largest_shortage_fen=min([0, *(s.difference_fen for s in shifts)]),
            no_sale_openings=sum(s.no_sale_openings for s in shifts),
        )
        for (outlet, clerk), shifts in sorted(groups.items())
    ]


def test_shift_cash_of_whole_months_is_read_from_their_sums(session: Session) -> None:
    """Shifts closed over three months of 2026 at two outlets: whatever the period, whole
    months read from their sums and the days of partial months shift by shift give what the
    Z reports add up to; a shift whose cash changes later changes its month's sums."""
    shops = Shops(session)
    shifts = []
    # Closed at 23:30 China time on each day (15:30 UTC), but the one at 00:10 on 1 July.
    for n, (shop, closed, counted) in enumerate(
        [
            (shops.d1, utc_at(date(2026, 5, 31), 15, 30), 19_000),
            (shops.d1, utc_at(date(2026, 6, 1), 15, 30), 20_500),
            (shops.d1, utc_at(date(2026, 6, 15), 15, 30), 18_000),
            (shops.d1b, utc_at(date(2026, 6, 15), 15, 30), 20_000),
            (shops.d1, utc_at(date(2026, 6, 30), 15, 30), 17_500),
            (shops.d1b, utc_at(date(2026, 6, 30), 16, 10), 17_000),
            (shops.d1, utc_at(date(2026, 7, 20), 15, 30), 20_000),
        ]
    ):
        shifts.append(
            Shift(
                id=new_id(),
                terminal_id=shop.terminal_id,
                clerk="clerk1" if n % 3 else "clerk2",
                opened_at=closed - timedelta(hours=8),
                opening_float_fen=20_000,
                closed_at=closed,
                counted_cash_fen=counted,
                z_number=n + 1,
                no_sale_openings=n % 2,
            )
        )
    session.add_all(shifts)
    session.flush()
    assert shift_reconciliation.record_cash(session, [s.id for s in shifts]) == 7
    months = session.exec(
        select(ShiftCashMonth.month, func.sum(ShiftCashMonth.shifts)).group_by(ShiftCashMonth.month)
    ).all()
    assert sorted((m, int(n)) for m, n in months) == [
        (date(2026, 5, 1), 1),
        (date(2026, 6, 1), 4),
        (date(2026, 7, 1), 2),
    ]
    for start, end in (
        (date(2026, 6, 1), date(2026, 6, 30)),  # a whole month
        (date(2026, 5, 1), date(2026, 7, 31)),  # three
        (date(2026, 6, 2), date(2026, 6, 30)),  # a month less a day
        (date(2026, 6, 1), date(2026, 6, 29)),  # less the day of its largest shortage
        (date(2026, 6, 10), date(2026, 6, 20)),  # the days of one
        (date(2026, 5, 31), date(2026, 7, 1)),  # a day, a month, a day
        (date(2026, 6, 15), date(2026, 6, 15)),
    ):
        added = _z_reports_added(session, start, end)
        assert queries.shift_cash(session, start, end, Scope()) == added, (start, end)
        # The totals take a month less its few days outside the period (2 to 30 June).
        totals = queries.shift_cash_totals(session, start, end, Scope())
        assert queries.shift_cash_view(session, start, end, Scope()).totals == totals
        assert totals == queries.ShiftCashTotals(
            **{
                name: sum(getattr(row, name) for row in added)
                for name in asdict(queries.ShiftCashTotals())
            }
        ), (start, end)
    june = queries.shift_cash_totals(session, date(2026, 6, 1), date(2026, 6, 30), Scope())
    assert (june.shifts, june.difference_fen) == (4, 500 - 2_000 + 0 - 2_500)
    short = queries.shift_cash_view(session, date(2026, 6, 1), date(2026, 6, 29), Scope())
    assert [(r.outlet_code, r.clerk, r.largest_shortage_fen) for r in short.shortages] == [
        ("D1-O1", "clerk1", -2_000)
    ]

    # A shift whose cash changes after its close (a sale booked into it) changes its month.
    session.connection().execute(
        update(Shift.__table__)  # type: ignore[arg-type]
        .where(Shift.__table__.c.id == shifts[2].id)  # type: ignore[attr-defined]
        .values(counted_cash_fen=20_000)
    )
    shift_reconciliation.record_cash(session, [shifts[2].id])
    june = queries.shift_cash_totals(session, date(2026, 6, 1), date(2026, 6, 30), Scope())
    assert (june.shifts, june.difference_fen) == (4, 500 + 0 + 0 - 2_500)


def test_top_up_cards_activated_then_redeemed_on_the_day_of_redemption(
    session: Session, client: TestClient, login: Login, settings: Settings
) -> None:
    shops = Shops(session, pin_cipher(settings))
    till = shops.till
    day = date(2026, 6, 10)
    first = till.sell(
        shops.d1,
        utc_at(day, 4),
        *(Line(shops.take(shops.d1, "voucher:5000"), 5_000) for _ in range(3)),
    )
    till.sell(shops.d2, utc_at(day, 4), Line(shops.take(shops.d2, "voucher:5000"), 5_000))
    # One of D1's cards is returned three days later (China time 00:10 on the 13th).
    returned = first.payload.lines[2].item
    till.give_back(shops.d1, first, [returned], utc_at(date(2026, 6, 12), 16, 10))
    charging = login(Role.charging)
    for line in first.payload.lines:
        body = {"serial": line.item, "pin": shops.pins[line.item]}
        answer = client.post("/api/v1/vouchers/redeem", json=body, headers=charging).json()
        assert answer["result"] == ("not_sold" if line.item == returned else "valid")
    today = today_in_china()
    manager = login(Role.manager)
    window = {"start": "2026-06-01", "end": str(today)}
    rows = _get(client, "vouchers", manager, **window)
    assert _brief(
        rows,
        "period",
        "activated_count",
        "activated_fen",
        "returned_count",
        "redeemed_count",
        "redeemed_fen",
        "redemption_rate",
    ) == [
        ("2026-06-10", 4, 20_000, 0, 0, 0, 0.0),
        ("2026-06-13", 0, 0, 1, 0, 0, None),
        (str(today), 0, 0, 0, 2, 10_000, None),
    ]
    months = _get(client, "vouchers", manager, grain="month", dealer="D1", **window)
    assert _brief(months, "period", "activated_count", "returned_count", "redeemed_count") == [
        ("2026-06-01", 3, 1, 0),
        (str(today.replace(day=1)), 0, 0, 2),
    ]
    assert _brief(
        _get(client, "vouchers", manager, dealer="D2", **window), "period", "activated_count"
    ) == [("2026-06-10", 1)]
    # Sell-through of cards: D1-O1 received 5, sold 3, one came back: 3 on hand.
    through = _get(
        client, "sell-through", manager, outlet="D1-O1", start=str(today), end=str(today)
    )
    cards_row = next(r for r in through if r["item_kind"] == "voucher")
    assert (cards_row["received"], cards_row["sold"], cards_row["on_hand"]) == (5, 0, 3)
    june = _get(
        client, "sell-through", manager, outlet="D1-O1", start="2026-06-01", end="2026-06-30"
    )
    cards_row = next(r for r in june if r["item_kind"] == "voucher")
    assert (cards_row["received"], cards_row["sold"], cards_row["returned"]) == (0, 3, 1)
    assert cards_row["sell_through"] is None


def test_a_return_counts_on_the_day_it_happened(
    session: Session, client: TestClient, login: Login
) -> None:
    shops = Shops(session)
    till = shops.till
    number = shops.take(shops.d1, "number:G3")
    # Sold on 10 June (China), returned at 00:30 China time on 20 June.
    sold = till.sell(shops.d1, utc_at(date(2026, 6, 10), 4), Line(number, 60_000))
    till.give_back(shops.d1, sold, [number.key], utc_at(date(2026, 6, 19), 16, 30))
    manager = login(Role.manager)
    rows = _get(client, "sales", manager, start="2026-06-01", end="2026-06-30", by="grade")
    assert _brief(
        rows, "period", "key", "sold_count", "returned_count", "net_count", "net_fen"
    ) == [
        ("2026-06-10", "G3", 1, 0, 1, 60_000),
        ("2026-06-20", "G3", 0, 1, -1, -60_000),
    ]
    assert rows[1]["return_rate"] is None and rows[1]["dealer_fen"] == 0
    # A range with only the sale day shows the sale; one with only the return day the return.
    only_sale = _get(client, "sales", manager, start="2026-06-10", end="2026-06-19")
    assert _brief(only_sale, "sold_count", "returned_count") == [(1, 0)]
    only_return = _get(client, "sales", manager, start="2026-06-20", end="2026-06-20")
    assert _brief(only_return, "sold_count", "returned_count", "net_fen") == [(0, 1, -60_000)]
    month = _get(client, "sales", manager, start="2026-06-01", end="2026-06-30", grain="month")
    assert _brief(month, "net_count", "net_fen", "return_rate") == [(0, 0, 1.0)]
    ranking = _get(client, "top-outlets", manager, start="2026-06-20", end="2026-06-20")
    assert _brief(ranking, "code", "net_fen") == [("D1-O1", -60_000)]
    # Back on the shelf, the number sells again: a second sale, the return still counted.
    till.sell(shops.d1, utc_at(date(2026, 6, 25), 4), Line(number, 60_000))
    month = _get(client, "sales", manager, start="2026-06-01", end="2026-06-30", grain="month")
    assert _brief(month, "sold_count", "returned_count", "net_count", "return_rate") == [
        (2, 1, 1, 0.5)
    ]


def test_a_sale_pushed_twice_counts_once_and_a_rejected_sale_never(
    session: Session, client: TestClient, login: Login
) -> None:
    shops = Shops(session)
    device = {"Authorization": f"Bearer {shops.d1.credential}"}
    day = date(2026, 6, 10)
    number = shops.take(shops.d1, "number:STD")
    event = sale(shops.d1.terminal_no, 1, [Line(number, 5_000)], utc_at(day, 4))
    body = {"events": [event.model_dump(mode="json")]}
    for expected in ("accepted", "duplicate"):
        reply = client.post("/api/v1/sync/push", json=body, headers=device)
        assert reply.json()["results"][0]["status"] == expected
    # Rejected: an item of another outlet, the same number again, a payment that does not
    # add up, a price below the list without an approved override.
    foreign = shops.take(shops.d2, "number:STD")
    card = shops.take(shops.d1, "voucher:5000")
    refused = [
        sale(shops.d1.terminal_no, 2, [Line(foreign, 5_000)], utc_at(day, 5)),
        sale(shops.d1.terminal_no, 3, [Line(number, 5_000)], utc_at(day, 5)),
        sale(shops.d1.terminal_no, 4, [Line(card, 5_000)], utc_at(day, 5), paid_fen=4_000),
        sale(shops.d1.terminal_no, 5, [Line(card, 4_000)], utc_at(day, 5)),
        sale(
            shops.d1.terminal_no,
            6,
            [Line(card, 5_000), Line(shops.take(shops.d1, "number:G3"), 100)],
            utc_at(day, 5),
        ),
    ]
    body = {"events": [e.model_dump(mode="json") for e in refused]}
    reply = client.post("/api/v1/sync/push", json=body, headers=device)
    assert [r["status"] for r in reply.json()["results"]] == ["rejected"] * len(refused)
    # The same sale once more in a batch with a new one: only the new one counts.
    again = sale(shops.d1.terminal_no, 7, [Line(card, 5_000)], utc_at(day, 6))
    body = {"events": [event.model_dump(mode="json"), again.model_dump(mode="json")]}
    reply = client.post("/api/v1/sync/push", json=body, headers=device)
    assert [r["status"] for r in reply.json()["results"]] == ["duplicate", "accepted"]
    manager = login(Role.manager)
    rows = _get(client, "sales", manager, start="2026-06-01", end="2026-06-30", by="product")
    assert _brief(rows, "period", "key", "sold_count", "sold_fen") == [
        ("2026-06-10", "number:STD", 1, 5_000),
        ("2026-06-10", "voucher:5000", 1, 5_000),
    ]
    ranking = _get(client, "dealer-ranking", manager, start="2026-06-01", end="2026-06-30")
    assert _brief(ranking, "code", "sold_count") == [("D1", 2)]


def test_ranking_counts_only_outlets_with_sales(
    session: Session, client: TestClient, login: Login, settings: Settings
) -> None:
    """RankingRow.outlets is documented as "outlets with sales in the range". An outlet
    whose only activity in the range is the redemption of a card it sold earlier has no
    sales in the range, and must not be counted (nor listed with nothing sold)."""
    shops = Shops(session, pin_cipher(settings))
    till = shops.till
    card = shops.take(shops.d1b, "voucher:5000")
    till.sell(shops.d1b, utc_at(date(2026, 6, 10), 4), Line(card, 5_000))
    now = datetime.now(UTC) - timedelta(minutes=1)
    till.sell(shops.d1, now, Line(shops.take(shops.d1, "number:STD"), 5_000))
    charging = login(Role.charging)
    body = {"serial": card.key, "pin": shops.pins[card.key]}
    assert client.post("/api/v1/vouchers/redeem", json=body, headers=charging).json()["result"] == (
        "valid"
    )
    today = str(today_in_china())
    manager = login(Role.manager)
    dealers = _get(client, "dealer-ranking", manager, start=today, end=today)
    assert _brief(dealers, "code", "sold_count", "outlets") == [("D1", 1, 1)]
    outlets = _get(client, "top-outlets", manager, start=today, end=today)
    assert _brief(outlets, "code", "sold_count", "outlets")[0] == ("D1-O1", 1, 1)


def test_sell_through_counts_allocations_and_transfers_in(
    session: Session, client: TestClient, login: Login
) -> None:
    shops = Shops(session)
    moved = [shops.take(shops.d1, "number:STD") for _ in range(2)]
    document = movements.transfer(
        session,
        TransferIn(from_outlet="D1-O1", to_outlet="D1-O2", items=[i.key for i in moved]),
        "sales1",
    )
    receipts.receive(session, document.number, [i.key for i in moved], "clerk")
    now = datetime.now(UTC) - timedelta(minutes=1)
    shops.till.sell(shops.d1b, now, Line(moved[0], 5_000))
    sold = shops.till.sell(
        shops.d1,
        now,
        Line(shops.take(shops.d1, "voucher:5000"), 5_000),
        Line(shops.take(shops.d1, "voucher:5000"), 5_000),
    )
    shops.till.give_back(shops.d1, sold, [sold.payload.lines[0].item], now)
    today = str(today_in_china())
    rows = _get(client, "sell-through", login(Role.manager), dealer="D1", start=today, end=today)
    assert _brief(
        rows, "outlet_code", "item_kind", "received", "sold", "returned", "on_hand", "sell_through"
    ) == [
        ("D1-O1", "number", 6, 0, 0, 4, 0.0),
        ("D1-O1", "voucher", 5, 2, 1, 4, 0.4),
        ("D1-O2", "number", 8, 1, 0, 7, 0.125),
        ("D1-O2", "voucher", 5, 0, 0, 5, 0.0),
    ]
    # Nothing was received, sold or returned yesterday; what is on hand is as of now.
    yesterday = str(today_in_china() - timedelta(days=1))
    rows = _get(
        client, "sell-through", login(Role.manager), outlet="D1-O2", start=yesterday, end=yesterday
    )
    assert _brief(rows, "item_kind", "received", "sold", "on_hand", "sell_through") == [
        ("number", 0, 0, 7, None),
        ("voucher", 0, 0, 5, None),
    ]
