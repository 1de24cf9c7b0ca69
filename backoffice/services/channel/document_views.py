"""What the sales centre's stock pages read: the channel's stock documents a page at a time
with their outlets and item counts, one document with its lines, discrepancies and history,
the receipt discrepancies, and which items an outlet does not hold. Lists are keyset pages
on a primary key, newest first (document ids are UUIDv7, so in the order they were made)."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import func, select
from sqlmodel import Session, col, or_
from sqlmodel import select as sql_select

from backoffice.contracts.channel import ChannelDocumentPublic
from backoffice.domain.channel import TRANSFER_SOURCES, ItemKind
from backoffice.models import (
    AuditEntry,
    Dealer,
    DocumentDiscrepancy,
    Outlet,
    StockDocument,
    StockDocumentLine,
)
from backoffice.services.channel.items import ALL_ITEMS, channel_document
from backoffice.services.channel.receipts import _RESOLUTIONS
from shared.codes import DocumentKind

# The documents of the channel's stock, in the order the pages offer them.
CHANNEL_KINDS: tuple[str, ...] = (
    DocumentKind.DN.value,
    DocumentKind.RC.value,
    DocumentKind.RT.value,
    DocumentKind.TR.value,
    DocumentKind.SC.value,
    DocumentKind.SO.value,
)
# Their statuses: a delivery note or transfer is "allocated" (in transit) until the outlet
# receives it; the others are done when made.
DOCUMENT_STATUSES: tuple[str, ...] = ("allocated", "received", "discrepancy", "done")
# Documents printed as a PDF with barcodes (services/channel/delivery_note.py).
PRINTED_KINDS: frozenset[str] = frozenset({DocumentKind.DN.value, DocumentKind.TR.value})
# The documents whose receipt reports discrepancies the sales centre resolves.
RECEIVED_KINDS: tuple[str, ...] = (DocumentKind.DN.value, DocumentKind.TR.value)
TIMELINE_MAX = 200


@dataclass(frozen=True)
class DocumentRow:
    document: StockDocument
    outlet: Outlet | None
    from_outlet: Outlet | None
    dealer: Dealer | None
    item_count: int


def _outlets_and_dealers(
    session: Session, outlet_ids: Iterable[str | None]
) -> tuple[dict[str, Outlet], dict[str, Dealer]]:
    ids = {i for i in outlet_ids if i}
    outlets = (
        {o.id: o for o in session.exec(sql_select(Outlet).where(col(Outlet.id).in_(ids)))}
        if ids
        else {}
    )
    dealer_ids = {o.dealer_id for o in outlets.values()}
    dealers = (
        {d.id: d for d in session.exec(sql_select(Dealer).where(col(Dealer.id).in_(dealer_ids)))}
        if dealer_ids
        else {}
    )
    return outlets, dealers


def _item_counts(session: Session, document_ids: Sequence[str]) -> dict[str, int]:
    if not document_ids:
        return {}
    t = StockDocumentLine.__table__  # type: ignore[attr-defined]
    rows = session.connection().execute(
        select(t.c.document_id, func.sum(t.c.item_count))
        .where(t.c.document_id.in_(document_ids))
        .group_by(t.c.document_id)
    )
    return {document_id: int(total or 0) for document_id, total in rows}


def _rows(session: Session, documents: Sequence[StockDocument]) -> list[DocumentRow]:
    outlets, dealers = _outlets_and_dealers(
        session, [i for d in documents for i in (d.outlet_id, d.from_outlet_id)]
    )
    counts = _item_counts(session, [d.id for d in documents])
    rows = []
    for d in documents:
        outlet = outlets.get(d.outlet_id or "") or outlets.get(d.from_outlet_id or "")
        rows.append(
            DocumentRow(
                document=d,
                outlet=outlets.get(d.outlet_id or ""),
                from_outlet=outlets.get(d.from_outlet_id or ""),
                dealer=None if outlet is None else dealers.get(outlet.dealer_id),
                item_count=counts.get(d.id, 0),
            )
        )
    return rows


def documents_page(
    session: Session,
    *,
    kind: str | None = None,
    status: str | None = None,
    dealer_id: str | None = None,
    outlet_id: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[DocumentRow], str | None]:
    """The channel's stock documents, newest first, filtered; the key of the next page."""
    query = sql_select(StockDocument).where(col(StockDocument.kind).in_(CHANNEL_KINDS))
    if kind:
        query = query.where(StockDocument.kind == kind)
    if status:
        query = query.where(StockDocument.status == status)
    if outlet_id:
        query = query.where(
            or_(StockDocument.outlet_id == outlet_id, StockDocument.from_outlet_id == outlet_id)
        )
    if dealer_id:
        outlets = sql_select(Outlet.id).where(Outlet.dealer_id == dealer_id)
        query = query.where(
            or_(
                col(StockDocument.outlet_id).in_(outlets),
                col(StockDocument.from_outlet_id).in_(outlets),
            )
        )
    if after:
        query = query.where(col(StockDocument.id) < after)
    documents = list(session.exec(query.order_by(col(StockDocument.id).desc()).limit(limit + 1)))
    page = documents[:limit]
    return _rows(session, page), (page[-1].id if len(documents) > limit else None)


@dataclass(frozen=True)
class DocumentDetail:
    document: ChannelDocumentPublic
    row: DocumentRow
    discrepancies: list[DocumentDiscrepancy]
    # The receipts of a delivery note or transfer (normally one).
    receipts: list[StockDocument]
    # The document's history from the audit log, oldest first (its own rows and its receipts').
    timeline: list[AuditEntry]
    # The delivery note or transfer a receipt received.
    received: StockDocument | None = None
    printable: bool = False
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


def find(session: Session, number: str) -> StockDocument | None:
    """A channel stock document by its number, or None."""
    document = session.exec(
        sql_select(StockDocument).where(StockDocument.number == number.strip().upper())
    ).first()
    return document if document is not None and document.kind in CHANNEL_KINDS else None


def _receipt_note(number: str) -> str:
    # services/channel/receipts.py notes every receipt so.
    return f"receipt of {number}"


def document_detail(session: Session, document: StockDocument) -> DocumentDetail:
    receipts: list[StockDocument] = []
    received = None
    if document.kind in RECEIVED_KINDS and document.status != "allocated":
        receipts = list(
            session.exec(
                sql_select(StockDocument)
                .where(StockDocument.kind == DocumentKind.RC.value)
                .where(StockDocument.outlet_id == document.outlet_id)
                .where(StockDocument.note == _receipt_note(document.number))
                .order_by(col(StockDocument.id))
            )
        )
    if document.kind == DocumentKind.RC.value and document.note.startswith("receipt of "):
        received = find(session, document.note.removeprefix("receipt of "))
    discrepancies = list(
        session.exec(
            sql_select(DocumentDiscrepancy)
            .where(DocumentDiscrepancy.document_id == document.id)
            .order_by(col(DocumentDiscrepancy.id))
        )
    )
    ids = [document.id, *(r.id for r in receipts)]
    timeline = list(
        session.exec(
            sql_select(AuditEntry)
            .where(col(AuditEntry.document_id).in_(ids))
            .order_by(col(AuditEntry.id))
            .limit(TIMELINE_MAX)
        )
    )
    return DocumentDetail(
        document=channel_document(session, document),
        row=_rows(session, [document])[0],
        discrepancies=discrepancies,
        receipts=receipts,
        timeline=timeline,
        received=received,
        printable=document.kind in PRINTED_KINDS,
        missing=[d.item_key for d in discrepancies if d.kind == "missing"],
        unexpected=[d.item_key for d in discrepancies if d.kind == "unexpected"],
    )


@dataclass(frozen=True)
class DiscrepancyRow:
    discrepancy: DocumentDiscrepancy
    document: StockDocument
    outlet: Outlet | None
    dealer: Dealer | None


def _discrepancy_query(status: str | None, dealer_id: str | None):  # type: ignore[no-untyped-def]
    query = (
        sql_select(DocumentDiscrepancy, StockDocument)
        .join(StockDocument, col(StockDocument.id) == DocumentDiscrepancy.document_id)
        .where(col(StockDocument.kind).in_(RECEIVED_KINDS))
    )
    if status:
        query = query.where(DocumentDiscrepancy.status == status)
    if dealer_id:
        query = query.where(
            col(DocumentDiscrepancy.outlet_id).in_(
                sql_select(Outlet.id).where(Outlet.dealer_id == dealer_id)
            )
        )
    return query


def _discrepancy_rows(
    session: Session, found: Sequence[tuple[DocumentDiscrepancy, StockDocument]]
) -> list[DiscrepancyRow]:
    outlets, dealers = _outlets_and_dealers(session, [d.outlet_id for d, _ in found])
    rows = []
    for discrepancy, document in found:
        outlet = outlets.get(discrepancy.outlet_id)
        dealer = None if outlet is None else dealers.get(outlet.dealer_id)
        rows.append(DiscrepancyRow(discrepancy, document, outlet, dealer))
    return rows


def discrepancies_page(
    session: Session,
    *,
    status: str | None = "open",
    dealer_id: str | None = None,
    after: int | None = None,
    limit: int = 50,
) -> tuple[list[DiscrepancyRow], int | None]:
    """The items a receipt found missing or unexpected, newest first; the next page's key."""
    query = _discrepancy_query(status, dealer_id)
    if after is not None:
        query = query.where(col(DocumentDiscrepancy.id) < after)
    found = list(session.exec(query.order_by(col(DocumentDiscrepancy.id).desc()).limit(limit + 1)))
    page = found[:limit]
    next_after = page[-1][0].id if len(found) > limit else None
    return _discrepancy_rows(session, page), next_after


def discrepancy(session: Session, discrepancy_id: int) -> DiscrepancyRow | None:
    """One receipt discrepancy, or None (stock counts' differences are not resolved here)."""
    found = session.exec(
        _discrepancy_query(None, None).where(DocumentDiscrepancy.id == discrepancy_id)
    ).first()
    return None if found is None else _discrepancy_rows(session, [found])[0]


def resolutions_for(kind: str) -> list[str]:
    """The resolutions receipts.resolve_discrepancy takes for a missing or unexpected item."""
    return sorted(_RESOLUTIONS.get(kind, ()))


def not_held(
    session: Session,
    outlet_id: str,
    codes: dict[ItemKind, list[str]],
    move: Literal["return", "transfer"],
) -> list[str]:
    """The items of `codes` the outlet does not hold in a state a move may take: as
    movements.return_to_centre and movements.transfer take them."""
    missing: list[str] = []
    for items in ALL_ITEMS:
        keys = codes.get(items.kind, [])
        if not keys:
            continue
        allowed = items.returnable if move == "return" else TRANSFER_SOURCES[items.kind]
        t = items.table
        held: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            held |= set(
                session.connection()
                .execute(
                    select(items.key)
                    .where(items.key.in_(chunk))
                    .where(t.c.outlet_id == outlet_id)
                    .where(t.c.status.in_(allowed))
                )
                .scalars()
            )
        missing += [k for k in keys if k not in held]
    return missing


def outlets_of(session: Session, dealer_id: str) -> list[Outlet]:
    """A dealer's outlets by code, for an outlet menu."""
    return list(
        session.exec(
            sql_select(Outlet).where(Outlet.dealer_id == dealer_id).order_by(col(Outlet.code))
        )
    )


def outlets_by_dealer(session: Session) -> list[tuple[Dealer, list[Outlet]]]:
    """Every outlet, grouped under its dealer (both by code), for the forms' outlet menus."""
    dealers = list(session.exec(sql_select(Dealer).order_by(col(Dealer.code))))
    by_dealer: dict[str, list[Outlet]] = defaultdict(list)
    for outlet in session.exec(sql_select(Outlet).order_by(col(Outlet.code))):
        by_dealer[outlet.dealer_id].append(outlet)
    return [(d, by_dealer[d.id]) for d in dealers]
