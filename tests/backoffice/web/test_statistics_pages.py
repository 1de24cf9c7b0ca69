"""The managers' statistics pages: sales, rankings, stock and ageing, sell-through, top-up
cards, shifts and cash.

The round ticks of the charts' value axes, as a unit. In the browser (Debian's Chromium
under Playwright), as a manager over sales pushed by two dealers' terminals: each page shows
the figures the statistics services compute (the API's), its chart has ticks and tooltips,
the filters change the URL and the figures, and the CSV and XLSX downloads of a table open
from the page; the pages again in English. Over HTTP, a dealer manager sees only their own
dealer: another dealer's key gives the 403 page, and the downloads refuse it too; the shifts
page shows its table a page at a time, with the whole period's figures and charts."""

import csv
import html
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlmodel import Session

from backoffice.api.pages.statistics import reports
from backoffice.api.pages.statistics.charts import Unit, label, nice_step, ticks
from backoffice.contracts.channel import StaffCreate
from backoffice.contracts.statistics import SalesQuery
from backoffice.domain.calendar import month_of
from backoffice.domain.statistics import Dimension
from backoffice.domain.users import Role
from backoffice.models import Shift
from backoffice.services.channel import dealers
from backoffice.services.settlement import shifts as shift_reconciliation
from backoffice.services.statistics import queries
from backoffice.services.statistics.queries import Scope
from shared.ids import new_id
from shared.money import format_fen
from shared.sync import (
    EventStatus,
    ShiftCloseEvent,
    ShiftClosePayload,
    ShiftOpenEvent,
    ShiftOpenPayload,
)
from tests.backoffice.channel.helpers import Channel, channel, clerk_of, pool, push
from tests.backoffice.settlement.helpers import LONG_WINDOW
from tests.backoffice.statistics.helpers import (
    Item,
    Line,
    cards,
    give_back,
    numbers,
    sale,
    stock_outlet,
    today_in_china,
    utc_at,
)
from tests.backoffice.users.helpers import PASSWORD, make_user, web_log_in
from tests.backoffice.web.conftest import CJK, Visitor

Visit = Callable[..., Visitor]
# Data that may stay Chinese on an English page: the grades' names.
GRADE_NAMES = re.compile(r"(一|二|三|四)级靓号|普通号|多4优惠号")

# --- the ticks ----------------------------------------------------------------------------------


def test_steps_are_one_two_or_five_times_a_power_of_ten() -> None:
    assert [nice_step(span) for span in (1, 4, 7, 10, 23, 48, 99, 130, 999, 12_345)] == [
        1,
        1,
        2,
        2,
        5,
        10,
        20,
        50,
        200,
        5_000,
    ]
    assert nice_step(0) == 1 and nice_step(3, smallest=100) == 100
    for span in range(1, 5_000, 7):
        step = nice_step(span)
        assert re.fullmatch(r"[125]0*", str(step)), step
        assert span / step <= 5.5


def test_ticks_cover_the_values_and_zero_in_round_steps() -> None:
    assert ticks(0, 0) == [0, 1]
    assert ticks(0, 9) == [0, 2, 4, 6, 8, 10]
    assert ticks(3, 9) == [0, 2, 4, 6, 8, 10]  # the axis starts at zero
    assert ticks(-300, 0, Unit.fen) == [-300, -200, -100, 0]
    assert ticks(-1_000, 500, Unit.fen) == [-1_000, -500, 0, 500]
    assert ticks(0, 1_234_567, Unit.fen) == [0, 500_000, 1_000_000, 1_500_000]
    # Money never ticks below a yuan.
    assert ticks(0, 37, Unit.fen) == [0, 100]
    for high in (1, 17, 99, 101, 4_999, 123_456):
        scale = ticks(0, high)
        assert scale[0] == 0 and scale[-1] >= high and len(scale) <= 7
        assert len({b - a for a, b in pairwise(scale)}) == 1


def test_labels_have_thousands_separators_and_yuan() -> None:
    assert label(1_500_000, Unit.fen) == "¥15,000"
    assert label(-12_050, Unit.fen) == "-¥120.50"
    assert label(1_234_567, Unit.count) == "1,234,567"
    assert label(2_500, Unit.basis_points) == "25%"
    assert label(1_250, Unit.basis_points) == "12.5%"


# --- the sales behind the pages -------------------------------------------------------------------


@dataclass
class World:
    d1: Channel
    d2: Channel
    items: dict[str, list[Item]]
    seq: dict[str, int]

    def take(self, shop: Channel, product: str) -> Item:
        item = next(i for i in self.items[shop.outlet_code] if i.product == product)
        self.items[shop.outlet_code].remove(item)
        return item

    def next(self, shop: Channel) -> int:
        self.seq[shop.terminal_id] = self.seq.get(shop.terminal_id, 0) + 1
        return self.seq[shop.terminal_id]


def _world(session: Session) -> World:
    """D1 sells two numbers and a card today, and takes one number back; a number the day
    before the month began; D2 sells a number today; D1's clerk closes a shift ¥3 short."""
    pool(session, end=99, cards=10)
    d1, d2 = channel(session, "D1"), channel(session, "D2")
    world = World(d1, d2, {}, {})
    for shop in (d1, d2):
        _, items = stock_outlet(session, shop.outlet_code, [numbers(6), numbers(1, "G3"), cards(3)])
        world.items[shop.outlet_code] = items
    now = datetime.now(UTC) - timedelta(minutes=10)
    earlier = utc_at(month_of(today_in_china()) - timedelta(days=1), 4)
    sold = sale(
        d1.terminal_no,
        world.next(d1),
        [
            Line(world.take(d1, "number:STD"), 5_000),
            Line(world.take(d1, "number:G3"), 60_000),
            Line(world.take(d1, "voucher:5000"), 5_000),
        ],
        now,
    )
    before = sale(
        d1.terminal_no, world.next(d1), [Line(world.take(d1, "number:STD"), 5_000)], earlier
    )
    back = give_back(world.next(d1), sold, [sold.payload.lines[0].item], now + timedelta(minutes=1))
    other = sale(d2.terminal_no, world.next(d2), [Line(world.take(d2, "number:STD"), 5_000)], now)
    shift_id = new_id()
    opened = ShiftOpenEvent(
        id=new_id(),
        seq=world.next(d1),
        occurred_at=now + timedelta(minutes=2),
        payload=ShiftOpenPayload(
            shift_id=shift_id, clerk=clerk_of(d1.terminal_no), opening_float_fen=20_000
        ),
    )
    closed = ShiftCloseEvent(
        id=new_id(),
        seq=world.next(d1),
        occurred_at=now + timedelta(minutes=3),
        payload=ShiftClosePayload(
            shift_id=shift_id, counted_cash_fen=19_700, z_number=7, no_sale_openings=2
        ),
    )
    results = [
        *push(session, d1, before, sold, back, opened, closed, settings=LONG_WINDOW),
        *push(session, d2, other, settings=LONG_WINDOW),
    ]
    assert {r.status for r in results} == {EventStatus.accepted}, [
        (r.seq, r.reason, r.message) for r in results
    ]
    return world


def _month() -> tuple[date, date]:
    today = today_in_china()
    return month_of(today), today


def _english_only(page: Page, *data: str) -> None:
    text = GRADE_NAMES.sub("", page.locator("main").inner_text())
    for value in data:
        text = text.replace(value, "")
    assert not CJK.search(text), CJK.findall(text)


def _download(page: Page, section: str, name: str) -> bytes:
    with page.expect_download() as caught:
        page.locator(section).get_by_role("link", name=name, exact=True).first.click()
    return caught.value.path().read_bytes()


# --- in the browser -----------------------------------------------------------------------------


def test_sales_page_shows_the_services_figures_with_filters_and_downloads(
    visit: Visit, session: Session
) -> None:
    _world(session)
    start, end = _month()
    rows = queries.sales(session, SalesQuery(start=start, end=end), Scope())
    net = sum(r.net_fen for r in rows)
    owed = sum(r.net_dealer_fen for r in rows)
    assert net == 60_000 + 5_000 + 5_000  # the returned number is not counted

    manager = visit(Role.manager)
    page = manager.goto("/statistics/sales")
    expect(page.locator("#total-net b")).to_have_text(format_fen(net))
    expect(page.locator("#total-owed b")).to_have_text(format_fen(owed))
    expect(page.locator("#total-returned b")).to_have_text(format_fen(5_000))
    expect(page.locator("#total-sold b")).to_have_text(format_fen(75_000))
    # The previous period had the number sold the day before the month began.
    expect(page.locator("#total-sold .delta")).to_contain_text("¥50.00")
    expect(page.locator(".definitions")).to_contain_text("净销售额")
    # The chart: round ticks in yuan, a tooltip per column, both periods in the legend.
    chart = page.locator("#trend svg").first
    tick_labels = chart.locator("text.tick").all_text_contents()
    assert tick_labels[0] == "¥0" and all(t.startswith("¥") for t in tick_labels), tick_labels
    assert len(tick_labels) >= 3 and "¥800" in tick_labels, tick_labels
    titles = chart.locator("rect title").all_text_contents()
    assert any(format_fen(net) in t for t in titles), titles
    expect(page.locator("#trend .legend span")).to_have_count(2)
    manager.screenshot("statistics-sales")

    # Broken down by dealer: the URL keeps the filters, the table has a row per dealer.
    page.locator("#f-by").select_option("dealer")
    page.locator("form.filters button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/statistics/sales\?.*by=dealer"))
    by_dealer = queries.sales(
        session, SalesQuery(start=start, end=end, by=Dimension.dealer), Scope()
    )
    table = page.locator("#sales tbody tr")
    expect(table).to_have_count(len(by_dealer))
    expect(table.first).to_contain_text(format_fen(by_dealer[0].net_fen))
    expect(page.locator("#sales svg text.value").first).to_be_visible()
    manager.screenshot("statistics-sales-by-dealer")

    # One dealer only: the figures change.
    page.locator("#f-dealer").select_option("D2")
    page.locator("form.filters button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"dealer=D2"))
    expect(page.locator("#total-net b")).to_have_text(format_fen(5_000))

    # The table downloads as CSV and XLSX with the page's query.
    content = _download(page, "#sales", "CSV").decode("utf-8-sig")
    (only,) = list(csv.DictReader(io.StringIO(content)))
    assert only["编码"] == "D2" and only["净销售额(分)"] == "5000" and only["净结算额(分)"]
    book = load_workbook(io.BytesIO(_download(page, "#sales", "XLSX")))
    assert [c.value for c in book.active[2]][1] == "D2"

    # A bad date is said beside its field.
    assert manager.problems == []
    page.goto(manager.url("/statistics/sales?start=2026-13-01"))
    expect(page.locator("#e-start")).to_be_visible()
    assert manager.problems == [
        "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    ]
    manager.problems.clear()

    page.goto(manager.url("/statistics/sales?by=dealer"))
    manager.english()
    expect(page.locator("#total-net span").first).to_have_text("Net sales")
    _english_only(page, "dealer D1", "dealer D2")
    assert manager.problems == []


def test_the_other_reports_show_the_services_figures(visit: Visit, session: Session) -> None:
    world = _world(session)
    start, end = _month()
    manager = visit(Role.manager)

    page = manager.goto("/statistics/rankings")
    ranked = queries.dealer_ranking(session, start, end, Scope(), 20)
    expect(page.locator("#dealers tbody tr")).to_have_count(len(ranked))
    expect(page.locator("#dealers tbody tr").first).to_contain_text(ranked[0].code)
    expect(page.locator("#dealers tbody tr").first).to_contain_text(format_fen(ranked[0].net_fen))
    expect(page.locator("#outlets svg text.value").first).to_have_text(
        format_fen(ranked[0].net_fen)
    )

    page = manager.goto("/statistics/stock")
    stock = queries.stock(session, Scope())
    expect(page.locator("#stock tbody tr")).to_have_count(len(stock))
    expect(page.locator("#total-on-hand b")).to_have_text(f"{sum(r.on_hand for r in stock):,}")
    expect(page.locator("#stock .legend span")).to_have_count(4)
    manager.screenshot("statistics-stock")
    page.locator("#f-outlet").fill(world.d2.outlet_code)
    page.locator("form.filters button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"outlet=D2-O1"))
    expect(page.locator("#stock tbody tr")).to_have_count(2)

    page = manager.goto("/statistics/sell-through")
    through = queries.sell_through(session, start, end, Scope())
    expect(page.locator("#total-sold b")).to_have_text(f"{sum(r.sold for r in through):,}")
    expect(page.locator("#total-received b")).to_have_text(f"{sum(r.received for r in through):,}")
    expect(page.locator("#sell-through tbody tr")).to_have_count(len(through))
    assert "%" in (page.locator("#sell-through svg text.tick").last.text_content() or "")
    manager.screenshot("statistics-sell-through")

    page = manager.goto("/statistics/vouchers")
    expect(page.locator("#total-activated b")).to_have_text("1")
    expect(page.locator("#total-activated")).to_contain_text("¥50.00")
    expect(page.locator("#vouchers .legend span")).to_have_count(2)
    manager.screenshot("statistics-vouchers")

    page = manager.goto("/statistics/shifts")
    cash = queries.shift_cash(session, start, end, Scope())
    clerk = clerk_of(world.d1.terminal_no)
    assert [(r.clerk, r.difference_fen) for r in cash] == [(clerk, -300)]
    expect(page.locator("#total-difference b")).to_have_text("-¥3.00")
    expect(page.locator("#cash svg rect.negative title")).to_have_text(re.compile("-¥3.00"))
    expect(page.locator("#z-reports tbody tr")).to_have_count(1)
    manager.screenshot("statistics-shifts")
    expect(page.locator("#z-reports tbody tr")).to_contain_text("-¥3.00")
    # Drawer openings without a sale: the total, per clerk, the bar and each Z report.
    expect(page.locator("#total-no-sale b")).to_have_text("2")
    expect(page.locator("#cash tbody td.no-sale")).to_have_text(["2"])
    expect(page.locator("#z-reports tbody td.no-sale")).to_have_text(["2"])
    expect(page.locator("#no-sale svg rect title")).to_have_text(
        re.compile(rf"{re.escape(clerk)}\D+2\D")
    )
    content = _download(page, "#z-reports", "CSV").decode("utf-8-sig")
    assert clerk in content
    content = _download(page, "#cash", "CSV").decode("utf-8-sig")
    cash_row = next(csv.DictReader(io.StringIO(content)))
    assert (cash_row["差额(分)"], cash_row["无销售开钱箱"]) == ("-300", "2")

    manager.english()
    _english_only(page, "outlet of D1")
    manager.screenshot("statistics-shifts-en")
    page = manager.goto("/statistics/stock")
    _english_only(page, "outlet of D1", "outlet of D2")
    assert manager.problems == []


# --- a dealer manager sees only their own dealer -----------------------------------------------


def _boss(session: Session) -> None:
    dealers.create_staff(
        session,
        "D1",
        StaffCreate(username="boss1", password=PASSWORD, role=Role.dealer_manager, pin="1234"),
        "sales1",
    )


PAGES = (
    "/dashboard",
    "/statistics/sales",
    "/statistics/rankings",
    "/statistics/stock",
    "/statistics/sell-through",
    "/statistics/vouchers",
    "/statistics/shifts",
)


def test_a_dealer_manager_is_refused_another_dealer(session: Session, client: TestClient) -> None:
    _world(session)
    _boss(session)
    assert web_log_in(client, "boss1", PASSWORD).status_code == 303
    for page in PAGES:
        own = client.get(page)
        assert own.status_code == 200, (page, own.text)
        assert 'name="dealer"' not in own.text, page  # the dealer filter is not offered
        assert "D2-O1" not in own.text, page
        refused = client.get(page, params={"dealer": "D2"})
        assert refused.status_code == 403, page
        assert "dealer staff see only their own dealer" in refused.text
        assert client.get(page, params={"dealer": "D1"}).status_code == 200, page


def test_a_dealer_managers_downloads_hold_only_their_dealer(
    session: Session, client: TestClient
) -> None:
    world = _world(session)
    _boss(session)
    web_log_in(client, "boss1", PASSWORD)
    page = client.get("/statistics/sales", params={"by": "outlet"})
    links = re.findall(r'href="(/api/v1/statistics/sales/csv\?[^"]+)"', page.text)
    assert links
    own = client.get(links[0].replace("&amp;", "&"))
    assert own.status_code == 200 and "D1-O1" in own.text and "D2-O1" not in own.text
    other = client.get(links[0].replace("&amp;", "&") + "&dealer=D2")
    assert other.status_code == 403
    assert client.get("/api/v1/shifts/z-reports/csv", params={"dealer": "D2"}).status_code == 403
    # An outlet of another dealer is not theirs to name.
    reply = client.get("/statistics/sales", params={"outlet": world.d2.outlet_code})
    assert reply.status_code == 422 and "D2-O1" in reply.text and "¥50.00" not in reply.text


def test_filters_out_of_range_are_said_beside_their_field(
    session: Session, client: TestClient
) -> None:
    make_user(session, "manager9", Role.manager)
    assert web_log_in(client, "manager9", PASSWORD).status_code == 303
    for page in PAGES[1:]:
        if page == "/statistics/stock":
            continue
        bad = client.get(page, params={"start": "0001-01-01", "end": "2026-13-01"})
        assert bad.status_code == 422, page
        assert 'id="e-start"' in bad.text and 'id="e-end"' in bad.text, page
        # The first years a date may have still answer, without a previous period.
        early = client.get(page, params={"start": "1900-01-01", "end": "1900-01-31"})
        assert early.status_code == 200, (page, early.text)
    assert client.get("/statistics/sales", params={"grain": "year"}).status_code == 422
    assert client.get("/statistics/sales", params={"grade": "G%00"}).status_code == 422
    assert client.get("/statistics/sales", params={"product": "x"}).status_code == 422
    assert client.get("/statistics/stock", params={"dealer": "NOPE"}).status_code == 422
    for name in ("dealer", "outlet", "clerk"):
        reply = client.get("/statistics/shifts", params={name: "D\x01"})
        assert reply.status_code == 422 and 'aria-invalid="true"' in reply.text, name
    assert client.get("/statistics/shifts", params={"clerk": "x" * 65}).status_code == 422
    assert client.get("/dashboard", params={"day": "1900-01-15"}).status_code == 200


def _section(html: str, name: str) -> str:
    return html.split(f'<section id="{name}">', 1)[1].split("</section>", 1)[0]


def test_the_shifts_page_shows_a_page_of_rows_and_the_whole_periods_figures(
    session: Session, client: TestClient
) -> None:
    """Sixty clerks at one outlet: the table shows fifty, then the next page the other ten,
    the filters kept in the link; the figures and the charts are the whole period's."""
    pool(session)
    shop = channel(session, "D1")
    closed = datetime.now(UTC) - timedelta(minutes=10)
    shifts = [
        Shift(
            id=new_id(),
            terminal_id=shop.terminal_id,
            clerk=f"c{n:02d}",
            opened_at=closed - timedelta(hours=8),
            opening_float_fen=20_000,
            closed_at=closed,
            counted_cash_fen=20_000 - 100 * n,
            z_number=n + 1,
            no_sale_openings=n % 7,
        )
        for n in range(60)
    ]
    session.add_all(shifts)
    session.flush()
    assert shift_reconciliation.record_cash(session, [s.id for s in shifts]) == 60
    session.commit()
    make_user(session, "manager9", Role.manager)
    assert web_log_in(client, "manager9", PASSWORD).status_code == 303
    today = today_in_china()
    period = {"start": str(today - timedelta(days=1)), "end": str(today), "outlet": "D1-O1"}

    first = client.get("/statistics/shifts", params=period)
    assert first.status_code == 200, first.text
    cash = _section(first.text, "cash")
    shown = re.findall(
        r'<tr><td class="text">D1-O1</td><td class="text">[^<]*</td>'
        r'<td class="text">(c\d\d)</td>',
        cash,
    )
    assert shown == [f"c{n:02d}" for n in range(50)]
    # The figures are the sixty shifts', each short by its number in yuan cents.
    difference = -100 * sum(range(60))
    assert re.search(r'id="total-shifts">\s*<span>[^<]*</span>\s*<b>60</b>', first.text)
    assert f"<b>{format_fen(difference)}</b>" in first.text
    no_sale_total = sum(n % 7 for n in range(60))
    assert re.search(
        rf'id="total-no-sale">\s*<span>[^<]*</span>\s*<b>{no_sale_total}</b>', first.text
    )
    # The charts: the forty largest shortages, the largest first; the most no-sale openings.
    bars = re.findall(r"<title>D1-O1\W+(c\d\d)\b", cash)
    assert bars == [f"c{n:02d}" for n in range(59, 19, -1)]
    no_sale = re.findall(r"<title>D1-O1\W+(c\d\d)\b", _section(first.text, "no-sale"))
    assert len(no_sale) == 40 and no_sale[:3] == ["c06", "c13", "c20"]

    (link,) = re.findall(r'<a href="([^"]+)" rel="next">', cash)
    link = html.unescape(link)
    assert "outlet=D1-O1" in link and f"start={period['start']}" in link
    second = client.get(link)
    assert second.status_code == 200, second.text
    rest = _section(second.text, "cash")
    assert re.findall(r'<td class="text">(c\d\d)</td>', rest) == [
        f"c{n:02d}" for n in range(50, 60)
    ]
    assert 'rel="next"' not in rest
    assert f"<b>{format_fen(difference)}</b>" in second.text
    # A link that is no cursor shows the first page.
    again = client.get("/statistics/shifts", params={**period, "after": "x" * 300})
    assert _section(again.text, "cash") == cash


def test_stock_and_sell_through_show_a_page_of_outlets_and_all_outlets_figures(
    session: Session, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a page of one outlet: D1's rows, then by the next link D2's, the filters kept;
    the figures above the table are both outlets' on either page."""
    _world(session)
    monkeypatch.setattr(reports, "OUTLETS_SHOWN", 1)
    make_user(session, "manager8", Role.manager)
    session.commit()
    assert web_log_in(client, "manager8", PASSWORD).status_code == 303
    start, end = _month()
    stock = queries.stock(session, Scope())
    through = queries.sell_through(session, start, end, Scope())
    for path, section, rows, figure, value in (
        ("/statistics/stock", "stock", stock, "on-hand", sum(r.on_hand for r in stock)),
        ("/statistics/sell-through", "sell-through", through, "sold", sum(r.sold for r in through)),
    ):
        params = {"start": str(start), "end": str(end)} if section != "stock" else {}
        first = client.get(path, params=params)
        assert first.status_code == 200, first.text
        shown = _section(first.text, section)
        codes = re.findall(r'<tr><td class="text">(D\d-O1)</td>', shown)
        assert set(codes) == {"D1-O1"}
        assert len(codes) == sum(r.outlet_code == "D1-O1" for r in rows)
        assert re.search(
            rf'id="total-{figure}">\s*<span>[^<]*</span>\s*<b>{value:,}</b>', first.text
        )
        (link,) = re.findall(r'<a href="([^"]+)" rel="next">', shown)
        link = html.unescape(link)
        assert "after=D1-O1" in link and all(f"{k}={v}" in link for k, v in params.items())
        second = client.get(link)
        assert second.status_code == 200, second.text
        rest = _section(second.text, section)
        assert set(re.findall(r'<tr><td class="text">(D\d-O1)</td>', rest)) == {"D2-O1"}
        assert 'rel="next"' not in rest
        assert re.search(
            rf'id="total-{figure}">\s*<span>[^<]*</span>\s*<b>{value:,}</b>', second.text
        )
