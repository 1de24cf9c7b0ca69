"""Stock that moves after receipt: returns to the centre, transfers between outlets,
stock counts, and what an outlet holds."""

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlmodel import Session

from backoffice.contracts.channel import (
    ChannelDocumentPublic,
    ItemsIn,
    StockCountResult,
    StockItemPublic,
    TransferIn,
)
from backoffice.domain.channel import (
    IN_TRANSIT,
    TRANSFER_SOURCES,
    DiscrepancyKind,
    ItemKind,
)
from backoffice.services import audit
from backoffice.services.channel.dealers import charge_dealer, find_dealer, find_outlet
from backoffice.services.channel.documents import create_document
from backoffice.services.channel.items import (
    ALL_ITEMS,
    Items,
    _finish,
    _follow_sims,
    _insert_lines,
    _numbers_of,
    channel_document,
    send_off,
    split_items,
)
from backoffice.services.channel.prices import prices_for_dealer
from backoffice.services.channel.receipts import _discrepancies, _move
from backoffice.services.errors import Conflict, InvalidInput, NotFound
from shared.codes import DocumentKind
from shared.lifecycle import (
    NumberStatus,
    SimStatus,
)


def _all_or_nothing(
    session: Session,
    wanted: Sequence[str],
    moved: list[tuple],  # type: ignore[type-arg]
    what: str,
    owns_transaction: bool = True,
) -> None:
    if len(moved) != len(wanted):
        got = {m[0] for m in moved}
        bad = [k for k in wanted if k not in got]
        if owns_transaction:
            session.rollback()
        shown = ", ".join(bad[:10]) + (" …" if len(bad) > 10 else "")
        raise Conflict(
            f"{len(bad)} item(s) are not {what}: {shown}", code="item_not_in_outlet_stock"
        )


def return_to_centre(
    session: Session,
    request: ItemsIn,
    actor: str,
    outlet_scope: str | None = None,
    *,
    commit: bool = True,
) -> ChannelDocumentPublic:
    outlet = find_outlet(session, request.outlet)
    if outlet_scope is not None and outlet.id != outlet_scope:
        raise NotFound(f"outlet {request.outlet!r} not found", code="outlet_not_found")
    dealer = find_dealer(session, outlet.dealer_id)
    document = create_document(session, DocumentKind.RT, actor, [], note=request.note)
    document.from_outlet_id = outlet.id
    session.add(document)
    session.flush()
    prices = prices_for_dealer(session, dealer.id)
    credit = 0
    for items, keys in zip(ALL_ITEMS, split_items(request.items).values(), strict=True):
        if not keys:
            continue
        t = items.table
        moved = _move(
            session,
            items,
            keys,
            where=(t.c.outlet_id == outlet.id, t.c.status.in_(items.returnable)),
            values={
                "status": items.pool_status,
                "outlet_id": None,
                "prev_outlet_id": outlet.id,
                "document_id": document.id,
            },
            returning=(t.c.batch_id, items.product_column),
        )
        _all_or_nothing(session, keys, moved, f"in stock at outlet {outlet.code}", commit)
        _insert_lines(session, document.id, items.kind, [(m[0], m[1]) for m in moved])
        credit += sum(
            prices[p].dealer_fen for p in (items.product(m[2]) for m in moved) if p in prices
        )
        audit.record(
            session,
            actor=actor,
            entity_type="outlet",
            entity_id=outlet.id,
            action="return_to_centre",
            to_status=items.pool_status,
            item_count=len(moved),
            document_id=document.id,
            reason=request.note or None,
        )
    _follow_sims(
        session,
        _numbers_of(document.id),
        [SimStatus.allocated.value, SimStatus.in_stock.value],
        {"status": SimStatus.in_warehouse.value, "outlet_id": None},
    )
    if credit:
        charge_dealer(
            session,
            dealer,
            -credit,
            kind="return",
            actor=actor,
            document_id=document.id,
            note=f"return {document.number}",
        )
    _finish(session, commit)
    return channel_document(session, document)


def transfer(session: Session, request: TransferIn, actor: str) -> ChannelDocumentPublic:
    """Outlet stock sent to another outlet of the same dealer; in transit until received."""
    source = find_outlet(session, request.from_outlet)
    target = find_outlet(session, request.to_outlet)
    if source.id == target.id:
        raise InvalidInput("a transfer needs two different outlets")
    if source.dealer_id != target.dealer_id:
        raise Conflict(
            "transfers stay within one dealer; return to the centre and allocate instead",
            code="different_dealers",
        )
    document = create_document(
        session, DocumentKind.TR, actor, [], status="allocated", note=request.note
    )
    document.outlet_id, document.from_outlet_id = target.id, source.id
    session.add(document)
    session.flush()
    for items, keys in zip(ALL_ITEMS, split_items(request.items).values(), strict=True):
        if not keys:
            continue
        t = items.table
        moved = _move(
            session,
            items,
            keys,
            where=(t.c.outlet_id == source.id, t.c.status.in_(TRANSFER_SOURCES[items.kind])),
            values={
                "status": IN_TRANSIT[items.kind],
                "outlet_id": target.id,
                "prev_outlet_id": source.id,
                "document_id": document.id,
            },
            returning=(t.c.batch_id,),
        )
        _all_or_nothing(session, keys, moved, f"in stock at outlet {source.code}")
        _insert_lines(session, document.id, items.kind, moved)
        audit.record(
            session,
            actor=actor,
            entity_type="outlet",
            entity_id=source.id,
            action="transfer",
            from_status=items.in_stock,
            to_status=IN_TRANSIT[items.kind],
            item_count=len(moved),
            document_id=document.id,
            reason=f"to outlet {target.code}",
        )
    return send_off(session, document, [SimStatus.in_stock.value], target.id)


def _on_shelf(session: Session, items: Items, outlet_id: str) -> set[str]:
    t = items.table
    shelf = [items.in_stock]
    if items.kind is ItemKind.number:
        shelf.append(NumberStatus.reserved.value)
    return set(
        session.connection()
        .execute(select(items.key).where(t.c.outlet_id == outlet_id).where(t.c.status.in_(shelf)))
        .scalars()
    )


def stock_count(
    session: Session,
    outlet_key: str,
    scanned: Iterable[str],
    actor: str,
    outlet_scope: str | None = None,
    *,
    commit: bool = True,
) -> StockCountResult:
    """Everything scanned on the shelf against what the outlet should hold."""
    outlet = find_outlet(session, outlet_key)
    if outlet_scope is not None and outlet.id != outlet_scope:
        raise NotFound(f"outlet {outlet_key!r} not found", code="outlet_not_found")
    by_kind = split_items(scanned)
    missing: list[str] = []
    unexpected: list[str] = []
    counted = 0
    for items in ALL_ITEMS:
        expected = _on_shelf(session, items, outlet.id)
        got = set(by_kind[items.kind])
        counted += len(got)
        missing += sorted(expected - got)
        unexpected += sorted(got - expected)
    document = create_document(
        session,
        DocumentKind.SC,
        actor,
        [],
        note=f"counted {counted}; missing {len(missing)}; unexpected {len(unexpected)}",
    )
    document.outlet_id = outlet.id
    session.add(document)
    _discrepancies(session, document, outlet.id, DiscrepancyKind.missing, missing)
    _discrepancies(session, document, outlet.id, DiscrepancyKind.unexpected, unexpected)
    # Counting moves nothing; the audit row is the count having happened.
    audit.record(
        session,
        actor=actor,
        entity_type="outlet",
        entity_id=outlet.id,
        action="stock_count",
        item_count=counted,
        document_id=document.id,
        reason=document.note,
    )
    _finish(session, commit)
    return StockCountResult(
        document=channel_document(session, document),
        counted=counted,
        missing=missing,
        unexpected=unexpected,
    )


def outlet_stock(
    session: Session, outlet_key: str, dealer_scope: str | None = None, limit: int = 1_000
) -> list[StockItemPublic]:
    outlet = find_outlet(session, outlet_key, dealer_scope)
    out: list[StockItemPublic] = []
    for items in ALL_ITEMS:
        t = items.table
        rows = session.connection().execute(
            select(items.key, t.c.status, items.product_column)
            .where(t.c.outlet_id == outlet.id)
            .order_by(items.key)
            .limit(limit)
        )
        out += [
            StockItemPublic(item_kind=items.kind.value, item=k, status=s, product=items.product(p))
            for k, s, p in rows
        ]
    return out
