"""Receipt of a delivery note at the outlet, and the discrepancies (missing, unexpected)
it reports, with their resolution by the sales centre."""

from collections.abc import Iterable, Sequence

from sqlalchemy import Column, select, update
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.contracts.channel import (
    DiscrepancyPublic,
    DiscrepancyResolution,
    ReceiptResult,
)
from backoffice.domain.channel import (
    DiscrepancyKind,
    ItemKind,
)
from backoffice.models import (
    DocumentDiscrepancy,
    Outlet,
    StockDocument,
)
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.channel.dealers import charge_dealer, find_dealer
from backoffice.services.channel.documents import create_document
from backoffice.services.channel.items import (
    ALL_ITEMS,
    Items,
    _chunks,
    _finish,
    _follow_sims,
    _insert_lines,
    _items,
    _numbers_of,
    channel_document,
    find_channel_document,
    kind_of,
    split_items,
)
from backoffice.services.channel.prices import prices_for_dealer
from backoffice.services.errors import Conflict, InvalidInput, NotFound
from shared.codes import DocumentKind
from shared.lifecycle import (
    NumberStatus,
    SimStatus,
    VoucherStatus,
)


def _expected(session: Session, items: Items, document_id: str) -> list[str]:
    t = items.table
    return list(
        session.connection()
        .execute(
            select(items.key)
            .where(t.c.document_id == document_id)
            .where(t.c.status == items.receive_from)
        )
        .scalars()
    )


def _move(
    session: Session,
    items: Items,
    keys: Sequence[str],
    *,
    where: Sequence[object],
    values: dict[str, object],
    returning: Sequence[Column] = (),  # type: ignore[type-arg]
) -> list[tuple]:  # type: ignore[type-arg]
    """A conditional UPDATE of the given items, in chunks of an IN list."""
    t = items.table
    moved: list[tuple] = []  # type: ignore[type-arg]
    for chunk in _chunks(keys):
        statement = (
            update(t)
            .where(items.key.in_(chunk))
            .where(*where)
            .values(**values, version=t.c.version + 1, updated_at=utcnow())
            .returning(items.key, *returning)
        )
        moved.extend(tuple(r) for r in session.connection().execute(statement))
    return moved


def _discrepancies(
    session: Session,
    document: StockDocument,
    outlet_id: str,
    kind: DiscrepancyKind,
    keys: Iterable[str],
) -> list[DocumentDiscrepancy]:
    rows = [
        DocumentDiscrepancy(
            document_id=document.id,
            outlet_id=outlet_id,
            item_kind=kind_of(key).value,
            item_key=key,
            kind=kind.value,
            status="open",
        )
        for key in sorted(keys)
    ]
    session.add_all(rows)
    return rows


def receive(
    session: Session,
    document_number: str,
    scanned: Iterable[str],
    actor: str,
    outlet_scope: str | None = None,
    *,
    commit: bool = True,
) -> ReceiptResult:
    """The outlet scans a delivery note (or transfer) and every item it got: those on the
    document go in stock, the rest are reported as discrepancies for the sales centre."""
    document = find_channel_document(session, document_number)
    if document.kind not in (DocumentKind.DN.value, DocumentKind.TR.value):
        raise InvalidInput(
            f"document {document.number} is not a delivery note or transfer",
            code="not_a_delivery",
        )
    if outlet_scope is not None and document.outlet_id != outlet_scope:
        raise Conflict(
            f"document {document.number} is for another outlet", code="document_not_for_outlet"
        )
    if document.status != "allocated":
        raise Conflict(f"document {document.number} was already received", code="already_received")
    assert document.outlet_id is not None  # channel deliveries always name their outlet
    by_kind = split_items(scanned)
    received_total = 0
    missing: list[str] = []
    unexpected: list[str] = []
    receipt = create_document(
        session, DocumentKind.RC, actor, [], status="done", note=f"receipt of {document.number}"
    )
    receipt.outlet_id = document.outlet_id
    session.add(receipt)
    for items in ALL_ITEMS:
        expected = set(_expected(session, items, document.id))
        got = set(by_kind[items.kind])
        moved = _move(
            session,
            items,
            sorted(got & expected),
            where=(
                items.table.c.document_id == document.id,
                items.table.c.status == items.receive_from,
            ),
            values={"status": items.in_stock},
            returning=(items.table.c.batch_id,),
        )
        received_total += len(moved)
        _insert_lines(session, receipt.id, items.kind, moved)
        missing += sorted(expected - got)
        unexpected += sorted(got - expected)
        if moved:
            audit.record(
                session,
                actor=actor,
                entity_type="outlet",
                entity_id=document.outlet_id,
                action="receive",
                from_status=items.receive_from,
                to_status=items.in_stock,
                item_count=len(moved),
                document_id=receipt.id,
                reason=f"receipt of {document.number}",
            )
    _follow_sims(
        session,
        _numbers_of(document.id, NumberStatus.in_stock.value),
        [SimStatus.allocated.value],
        {"status": SimStatus.in_stock.value},
    )
    rows = _discrepancies(session, document, document.outlet_id, DiscrepancyKind.missing, missing)
    rows += _discrepancies(
        session, document, document.outlet_id, DiscrepancyKind.unexpected, unexpected
    )
    document.status = "received" if not rows else "discrepancy"
    session.add(document)
    _finish(session, commit)
    return ReceiptResult(
        document=channel_document(session, document),
        received=received_total,
        discrepancies=[DiscrepancyPublic.model_validate(r, from_attributes=True) for r in rows],
    )


def list_discrepancies(
    session: Session, status: str | None = "open", dealer_scope: str | None = None
) -> list[DocumentDiscrepancy]:
    query = sql_select(DocumentDiscrepancy).order_by(col(DocumentDiscrepancy.id))
    if status:
        query = query.where(DocumentDiscrepancy.status == status)
    if dealer_scope is not None:
        query = query.join(Outlet, col(Outlet.id) == DocumentDiscrepancy.outlet_id).where(
            Outlet.dealer_id == dealer_scope
        )
    return list(session.exec(query))


_RESOLUTIONS = {
    DiscrepancyKind.missing.value: {"received", "returned_to_pool", "written_off"},
    DiscrepancyKind.unexpected.value: {"noted"},
}


def resolve_discrepancy(
    session: Session, discrepancy_id: int, request: DiscrepancyResolution, actor: str
) -> DocumentDiscrepancy:
    """The sales centre's decision on one discrepancy; a missing item found later goes in
    stock, one given up goes back to the pool (credited) or stays frozen as written off."""
    row = session.get(DocumentDiscrepancy, discrepancy_id)
    if row is None:
        raise NotFound(f"discrepancy {discrepancy_id} not found")
    if row.status != "open":
        raise Conflict(f"discrepancy {discrepancy_id} is already resolved", code="resolved")
    if request.resolution not in _RESOLUTIONS[row.kind]:
        allowed = ", ".join(sorted(_RESOLUTIONS[row.kind]))
        raise InvalidInput(
            f"a {row.kind} item can be resolved as {allowed}, not {request.resolution}",
            code="invalid_resolution",
        )
    items = _items(ItemKind(row.item_kind))
    t = items.table
    in_transit = (t.c.document_id == row.document_id, t.c.status == items.receive_from)
    if request.resolution == "received":
        moved = _move(
            session, items, [row.item_key], where=in_transit, values={"status": items.in_stock}
        )
    elif request.resolution == "returned_to_pool":
        moved = _move(
            session,
            items,
            [row.item_key],
            where=in_transit,
            values={
                "status": items.pool_status,
                "outlet_id": None,
                "prev_outlet_id": row.outlet_id,
            },
            returning=(items.product_column,),
        )
        if moved:
            outlet = session.get(Outlet, row.outlet_id)
            assert outlet is not None
            dealer = find_dealer(session, outlet.dealer_id)
            price = prices_for_dealer(session, dealer.id).get(items.product(moved[0][1]))
            if price is not None:
                charge_dealer(
                    session,
                    dealer,
                    -price.dealer_fen,
                    kind="return",
                    actor=actor,
                    document_id=row.document_id,
                    note=f"missing {row.item_key}",
                )
    elif request.resolution == "written_off":
        frozen = (
            NumberStatus.frozen.value
            if items.kind is ItemKind.number
            else (VoucherStatus.frozen.value)
        )
        moved = _move(
            session,
            items,
            [row.item_key],
            where=in_transit,
            values={"status": frozen, "held_from": items.receive_from},
        )
    else:
        moved = [(row.item_key,)]
    if not moved:
        session.rollback()
        raise Conflict(
            f"{row.item_key} is no longer in transit on that document", code="item_moved"
        )
    if items.kind is ItemKind.number and request.resolution == "received":
        _follow_sims(
            session,
            [row.item_key],
            [SimStatus.allocated.value],
            {"status": SimStatus.in_stock.value},
        )
    if items.kind is ItemKind.number and request.resolution == "returned_to_pool":
        _follow_sims(
            session,
            [row.item_key],
            [SimStatus.allocated.value],
            {"status": SimStatus.in_warehouse.value, "outlet_id": None},
        )
    row.status, row.resolution, row.resolved_by = "resolved", request.resolution, actor
    row.resolved_at, row.note = utcnow(), request.note
    session.add(row)
    audit.record(
        session,
        actor=actor,
        entity_type=row.item_kind,
        entity_id=row.item_key,
        action="resolve",
        from_status=row.kind,
        to_status=request.resolution,
        document_id=row.document_id,
        reason=request.note or None,
    )
    session.commit()
    return row
