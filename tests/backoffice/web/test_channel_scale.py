"""The sales centre's lists at a province's shapes, over HTTP: the outlets list a page at a
time with the stock of the page's outlets, the stock documents list with documents of every
kind and status as a province holds them (transfers between outlets, receipts, returns,
counts, notes in transit and with discrepancies) page after page, and menus that hold the
chosen dealer's outlets only. The SQL a page runs does not grow with the outlets it does not
show."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from backoffice.contracts.channel import OutletCreate
from backoffice.domain.users import Role
from backoffice.models import Outlet, StockDocument, StockDocumentLine
from backoffice.models.types import utcnow
from backoffice.services.channel import dealers
from shared.codes import DocumentKind, format_document_number
from shared.ids import new_id
from tests.backoffice.channel.helpers import channel, pool, stocked_numbers
from tests.backoffice.users.helpers import make_user, web_log_in

ROW = re.compile(r'<tr data-number="([A-Z]{2}[0-9]{15})">')
OUTLET_LINK = re.compile(r'<td class="text" rowspan="2"><a href="/channel/outlets/([^"]+)">')
NEXT = re.compile(r'href="([^"]*after=[^"]+)"')


@pytest.fixture
def sales(client: TestClient, session: Session) -> TestClient:
    make_user(session, "sales9", Role.sales_centre)
    assert web_log_in(client, "sales9").status_code == 303
    client.cookies.set("haoka_lang", "en")
    return client


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements run meanwhile (by any engine)."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", note)


def _outlets(session: Session, dealer: str, prefix: str, count: int) -> list[Outlet]:
    return [
        dealers.create_outlet(
            session,
            OutletCreate(dealer=dealer, code=f"{prefix}{n:02d}", name=f"shop {prefix}{n:02d}"),
            "sales1",
        )
        for n in range(count)
    ]


def _next(page: str) -> str:
    found = NEXT.findall(page)
    assert found, "no next page"
    return found[-1].replace("&amp;", "&")


def test_the_outlets_list_pages_by_code_with_the_stock_of_the_pages_outlets(
    sales: TestClient, session: Session
) -> None:
    pool(session, end=99)
    channel(session, "D1", staff=False)
    _outlets(session, "D1", "D1-S", 55)
    channel(session, "D2", outlet="D2-O1", staff=False)
    stocked_numbers(session, "D2-O1", 3)

    with statements() as first_sql:
        first = sales.get("/channel/outlets")
    assert first.status_code == 200
    shown = OUTLET_LINK.findall(first.text)
    assert shown == ["D1-O1", *(f"D1-S{n:02d}" for n in range(49))]
    second = sales.get(_next(first.text))
    assert second.status_code == 200
    assert OUTLET_LINK.findall(second.text) == [*(f"D1-S{n:02d}" for n in range(49, 55)), "D2-O1"]
    # D2-O1's three numbers on the shelf, counted though it is on the second page.
    row = second.text[second.text.index('href="/channel/outlets/D2-O1"') :]
    cells = re.findall(r'<td class="num">(\d+)</td>', row)
    assert cells[:3] == ["0", "3", "0"]
    assert NEXT.findall(second.text) == []

    with statements() as one_dealer_sql:
        own = sales.get("/channel/outlets?dealer=D2")
    assert OUTLET_LINK.findall(own.text) == ["D2-O1"]
    # The dealer menu offers every dealer; the page's SQL is the same for 50 outlets as for one.
    assert re.findall(r'<option value="(D\d)"', first.text) == ["D1", "D2"]
    assert len(first_sql) <= len(one_dealer_sql)

    unknown = sales.get("/channel/outlets?dealer=NOPE")
    assert unknown.status_code == 200
    assert OUTLET_LINK.findall(unknown.text) == []
    assert "No outlet matches these filters." in unknown.text


def _document(
    session: Session,
    seq: int,
    kind: DocumentKind,
    status: str,
    outlet: Outlet | None,
    from_outlet: Outlet | None = None,
    note: str = "",
) -> StockDocument:
    """A document as a province's history holds it (made in bulk, its number of its day)."""
    at = utcnow() - timedelta(days=90) + timedelta(minutes=seq)
    document = StockDocument(
        id=new_id(),
        number=format_document_number(kind, at.date(), seq),
        kind=kind.value,
        status=status,
        created_by="sales1",
        created_at=at,
        note=note,
        outlet_id=None if outlet is None else outlet.id,
        from_outlet_id=None if from_outlet is None else from_outlet.id,
    )
    session.add(document)
    session.flush()
    session.add(
        StockDocumentLine(
            document_id=document.id,
            item_kind="number",
            batch_id="B",
            first_item=f"1390576{seq:04d}",
            last_item=f"1390576{seq:04d}",
            item_count=1,
        )
    )
    return document


def test_the_stock_documents_list_answers_for_every_kind_and_status_page_after_page(
    sales: TestClient, session: Session
) -> None:
    """Regression: the list answered 500 at the benchmark's province; it must answer 200 with
    documents of every kind and status, a transfer's two outlets, receipts of notes it does
    not list, and a next page."""
    channel(session, "D1", staff=False)
    channel(session, "D2", outlet="D2-O1", staff=False)
    d1 = _outlets(session, "D1", "D1-S", 3)
    d2 = [dealers.find_outlet(session, "D2-O1"), *_outlets(session, "D2", "D2-S", 2)]
    shapes = [
        (DocumentKind.DN, "allocated", d1[0], None, ""),
        (DocumentKind.DN, "received", d1[1], None, ""),
        (DocumentKind.DN, "discrepancy", d2[0], None, ""),
        (DocumentKind.RC, "done", d2[1], None, "receipt of DN202601010000011"),
        (DocumentKind.TR, "allocated", d2[2], d2[0], ""),
        (DocumentKind.TR, "received", d1[2], d1[0], "to the new shop"),
        (DocumentKind.RT, "done", d1[1], None, "damaged"),
        (DocumentKind.SC, "done", d2[1], None, ""),
        (DocumentKind.SO, "done", d2[2], None, ""),
    ]
    made = [_document(session, n + 1, *shapes[n % len(shapes)]) for n in range(64)]
    session.commit()

    first = sales.get("/channel/documents")
    assert first.status_code == 200, first.text
    numbers = ROW.findall(first.text)
    assert len(numbers) == 50
    # The outlet menu waits for a dealer: no outlet is listed before one is chosen.
    assert "<optgroup" not in first.text
    second = sales.get(_next(first.text))
    assert second.status_code == 200, second.text
    numbers += ROW.findall(second.text)
    assert numbers == [d.number for d in sorted(made, key=lambda d: d.id, reverse=True)]
    assert "D1-S00 → D1-S02" in second.text or "D1-S00 → D1-S02" in first.text

    of_d2 = sales.get("/channel/documents?dealer=D2")
    assert of_d2.status_code == 200
    ids_of_d2 = {o.id for o in d2}
    expected = {d.number for d in made if d.outlet_id in ids_of_d2 or d.from_outlet_id in ids_of_d2}
    assert sorted(ROW.findall(of_d2.text)) == sorted(expected)
    menu = re.findall(r'<option value="(D\d-[A-Z0-9]+)"', of_d2.text)
    assert menu == ["D2-O1", "D2-S00", "D2-S01"]

    one = sales.get("/channel/documents?outlet=D2-O1&kind=TR")
    assert one.status_code == 200
    assert ROW.findall(one.text) == [
        d.number
        for d in sorted(made, key=lambda d: d.id, reverse=True)
        if d.kind == "TR" and d2[0].id in (d.outlet_id, d.from_outlet_id)
    ]
    assert re.findall(r'<option value="(D\d-[A-Z0-9]+)" selected', one.text) == ["D2-O1"]

    for path in ("/channel/discrepancies", "/channel/allocations?dealer=D2"):
        reply = sales.get(path)
        assert reply.status_code == 200, path
        assert '<option value="D1-S00"' not in reply.text, path
