"""Channel stock documents: allocation by rule, receipt at the outlet, returns to the centre,
transfers between outlets, stock counts, and the discrepancies they report."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Column, Select, Table, func, select, update
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.contracts import DocumentLinePublic
from backoffice.contracts_channel import (
    AllocationRequest,
    AllocationRule,
    ChannelDocumentPublic,
    DiscrepancyPublic,
    DiscrepancyResolution,
    ItemsIn,
    ReceiptResult,
    StockCountResult,
    StockItemPublic,
    TransferIn,
)
from backoffice.domain.channel import (
    IN_TRANSIT,
    TRANSFER_SOURCES,
    AllocationOrder,
    DiscrepancyKind,
    ItemKind,
    compress_ranges,
)
from backoffice.domain.pricing import Price, number_product, voucher_product
from backoffice.models import (
    DealerLedgerEntry,
    DocumentDiscrepancy,
    MobileNumber,
    NumberGrade,
    Outlet,
    SimCard,
    StockDocument,
    StockDocumentLine,
    Voucher,
)
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.bulk import insert_rows
from backoffice.services.dealers import charge_dealer, find_dealer, find_outlet
from backoffice.services.documents import create_document, get_document
from backoffice.services.errors import Conflict, InvalidInput, NotFound
from backoffice.services.prices import prices_for_dealer
from shared.codes import DocumentKind
from shared.lifecycle import (
    NUMBER_LIFECYCLE,
    VOUCHER_LIFECYCLE,
    NumberAction,
    NumberStatus,
    SimStatus,
    VoucherAction,
    VoucherStatus,
)

_CHUNK = 500


@dataclass(frozen=True)
class Items:
    """One kind of serialized stock as the set-based statements see it."""

    kind: ItemKind
    table: Table
    key: Column  # type: ignore[type-arg]
    product_column: Column  # type: ignore[type-arg]
    pool_status: str
    allocate_from: str
    receive_from: str
    in_stock: str
    returnable: tuple[str, ...]

    def product(self, value: object) -> str:
        if self.kind is ItemKind.number:
            return number_product(str(value))
        return voucher_product(int(value))  # type: ignore[call-overload]


def _items(kind: ItemKind) -> Items:
    if kind is ItemKind.number:
        table = MobileNumber.__table__  # type: ignore[attr-defined]
        (allocate_from,) = NUMBER_LIFECYCLE.sources(NumberAction.allocate)
        (receive_from,) = NUMBER_LIFECYCLE.sources(NumberAction.receive)
        # A reserved number goes back only once its reservation has ended.
        returnable = NUMBER_LIFECYCLE.sources(NumberAction.return_to_centre) - {
            NumberStatus.reserved
        }
        return Items(
            kind,
            table,
            table.c.msisdn,
            table.c.grade_code,
            NUMBER_LIFECYCLE.target(NumberStatus.in_stock, NumberAction.return_to_centre).value,
            allocate_from.value,
            receive_from.value,
            NumberStatus.in_stock.value,
            tuple(sorted(s.value for s in returnable)),
        )
    table = Voucher.__table__  # type: ignore[attr-defined]
    (allocate_from,) = VOUCHER_LIFECYCLE.sources(VoucherAction.allocate)
    (receive_from,) = VOUCHER_LIFECYCLE.sources(VoucherAction.receive)
    returnable = VOUCHER_LIFECYCLE.sources(VoucherAction.return_to_centre)
    return Items(
        kind,
        table,
        table.c.serial,
        table.c.face_value_fen,
        VOUCHER_LIFECYCLE.target(VoucherStatus.in_stock, VoucherAction.return_to_centre).value,
        allocate_from.value,
        receive_from.value,
        VoucherStatus.in_stock.value,
        tuple(sorted(s.value for s in returnable)),
    )


NUMBERS = _items(ItemKind.number)
VOUCHERS = _items(ItemKind.voucher)
ALL_ITEMS = (NUMBERS, VOUCHERS)
_SIMS = SimCard.__table__  # type: ignore[attr-defined]


def _follow_sims(
    session: Session,
    numbers: "Select[tuple[str]] | Sequence[str]",
    sims_from: Sequence[str],
    values: dict[str, object],
) -> None:
    """Paired SIM cards make the same move as their numbers (a starter pack travels whole):
    one statement for all the numbers a document moved."""
    session.connection().execute(
        update(_SIMS)
        .where(_SIMS.c.msisdn.in_(numbers))
        .where(_SIMS.c.status.in_(sims_from))
        .values(**values, version=_SIMS.c.version + 1, updated_at=utcnow())
    )


def _numbers_of(document_id: str, status: str | None = None) -> "Select[tuple[str]]":
    t = NUMBERS.table
    query = select(t.c.msisdn).where(t.c.document_id == document_id)
    return query if status is None else query.where(t.c.status == status)


def kind_of(code: str) -> ItemKind:
    """Numbers are 11 digits, top-up card serials 17."""
    value = code.strip()
    if value.isascii() and value.isdigit() and len(value) == 11:
        return ItemKind.number
    if value.isascii() and value.isdigit() and len(value) == 17:
        return ItemKind.voucher
    raise InvalidInput(
        f"item {code!r} is neither a mobile number (11 digits) nor a card serial (17 digits)",
        code="invalid_item",
    )


def split_items(codes: Iterable[str]) -> dict[ItemKind, list[str]]:
    out: dict[ItemKind, list[str]] = {ItemKind.number: [], ItemKind.voucher: []}
    for code in codes:
        out[kind_of(code)].append(code.strip())
    return {k: sorted(set(v)) for k, v in out.items()}


def _finish(session: Session, commit: bool) -> None:
    """Commits, or only flushes when the caller (a sync event) owns the transaction."""
    if commit:
        session.commit()
    else:
        session.flush()


def _chunks(keys: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(keys), _CHUNK):
        yield keys[i : i + _CHUNK]


def _insert_lines(
    session: Session, document_id: str, kind: ItemKind, moved: Iterable[tuple[str, str]]
) -> None:
    """Lines as consecutive ranges per batch, written in bulk (a random allocation of
    10,000 numbers makes about as many lines)."""
    by_batch: dict[str, list[str]] = defaultdict(list)
    for key, batch_id in moved:
        by_batch[batch_id].append(key)
    rows = (
        (document_id, kind.value, batch_id, r.first, r.last, r.count)
        for batch_id, keys in sorted(by_batch.items())
        for r in compress_ranges(keys)
    )
    insert_rows(
        session,
        "stock_document_line",
        ("document_id", "item_kind", "batch_id", "first_item", "last_item", "item_count"),
        rows,
    )


def channel_document(session: Session, document: StockDocument) -> ChannelDocumentPublic:
    t = StockDocumentLine.__table__  # type: ignore[attr-defined]
    # Plain rows, not ORM objects: a random allocation has about as many lines as items.
    lines = (
        session.connection()
        .execute(
            select(t.c.item_kind, t.c.batch_id, t.c.first_item, t.c.last_item, t.c.item_count)
            .where(t.c.document_id == document.id)
            .order_by(t.c.id)
        )
        .all()
    )
    charge = session.exec(
        sql_select(func.coalesce(func.sum(DealerLedgerEntry.amount_fen), 0)).where(
            DealerLedgerEntry.document_id == document.id
        )
    ).one()
    return ChannelDocumentPublic(
        id=document.id,
        number=document.number,
        kind=document.kind,
        status=document.status,
        created_by=document.created_by,
        created_at=document.created_at,
        note=document.note,
        lines=[DocumentLinePublic(**line._mapping) for line in lines],
        outlet_id=document.outlet_id,
        from_outlet_id=document.from_outlet_id,
        charge_fen=int(charge),
    )


def find_channel_document(
    session: Session, number: str, dealer_scope: str | None = None
) -> StockDocument:
    try:
        document, _ = get_document(session, number.strip().upper())
    except NotFound as exc:
        raise NotFound(exc.message, code="document_not_found") from exc
    if dealer_scope is not None:
        outlet_ids = {document.outlet_id, document.from_outlet_id} - {None}
        dealers = {
            o.dealer_id for o in (session.get(Outlet, i) for i in outlet_ids) if o is not None
        }
        if dealer_scope not in dealers:
            raise NotFound(f"document {number} not found", code="document_not_found")
    return document


# --- allocation -----------------------------------------------------------------------------


def _rule_product(session: Session, index: int, rule: AllocationRule) -> tuple[Items, str, object]:
    if rule.item_kind == "number":
        if not rule.grade or rule.face_value_fen is not None:
            raise InvalidInput(f"rules[{index}]: a number rule needs grade and no face value")
        if session.get(NumberGrade, rule.grade) is None:
            raise InvalidInput(
                f"rules[{index}]: unknown grade {rule.grade!r}", code="unknown_grade"
            )
        return NUMBERS, number_product(rule.grade), rule.grade
    if rule.face_value_fen is None or rule.grade is not None:
        raise InvalidInput(f"rules[{index}]: a card rule needs face_value_fen and no grade")
    return VOUCHERS, voucher_product(rule.face_value_fen), rule.face_value_fen


def _pick(
    session: Session,
    items: Items,
    product_value: object,
    count: int,
    order: AllocationOrder,
    *,
    target: str,
    outlet_id: str,
    document_id: str,
) -> list[tuple[str, str]]:
    """One statement: the pool's first or random `count` items of the product move to the
    outlet. On PostgreSQL SKIP LOCKED lets concurrent allocations take disjoint items."""
    t = items.table
    pick = (
        select(items.key)
        .where(t.c.status == items.allocate_from)
        .where(items.product_column == product_value)
        .order_by(func.random() if order is AllocationOrder.random else items.key)
        .limit(count)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    # Both planners may rescan an IN subquery (PostgreSQL as the inner side of a semi-join),
    # and with random() every scan picks other rows; a materialized CTE runs exactly once.
    cte = pick.cte("pick").prefix_with("MATERIALIZED")
    chosen = select(cte.c[items.key.name]).scalar_subquery()
    statement = (
        update(t)
        .where(items.key.in_(chosen))
        .where(t.c.status == items.allocate_from)
        .values(
            status=target,
            outlet_id=outlet_id,
            prev_outlet_id=None,
            document_id=document_id,
            version=t.c.version + 1,
            updated_at=utcnow(),
        )
        .returning(items.key, t.c.batch_id)
    )
    return [(row[0], row[1]) for row in session.connection().execute(statement)]


def allocate(session: Session, request: AllocationRequest, actor: str) -> ChannelDocumentPublic:
    """Picks the items by rule (never by hand), charges the dealer within its credit limit,
    and writes the delivery note; all or nothing."""
    outlet = find_outlet(session, request.outlet)
    dealer = find_dealer(session, outlet.dealer_id)
    prices = prices_for_dealer(session, dealer.id)
    planned: list[tuple[Items, str, object, int, Price]] = []
    for index, rule in enumerate(request.rules):
        items, product, value = _rule_product(session, index, rule)
        price = prices.get(product)
        if price is None:
            raise InvalidInput(f"rules[{index}]: {product} has no price", code="no_price")
        planned.append((items, product, value, rule.count, price))
    charge = sum(count * price.dealer_fen for *_, count, price in planned)
    document = create_document(
        session, DocumentKind.DN, actor, [], status="allocated", note=request.note
    )
    document.outlet_id = outlet.id
    session.add(document)
    session.flush()
    charge_dealer(
        session,
        dealer,
        charge,
        kind="allocation",
        actor=actor,
        document_id=document.id,
        note=f"delivery note {document.number}",
    )
    for items, product, value, count, _price in planned:
        target = IN_TRANSIT[items.kind]
        moved = _pick(
            session,
            items,
            value,
            count,
            request.order,
            target=target,
            outlet_id=outlet.id,
            document_id=document.id,
        )
        if len(moved) < count:
            session.rollback()
            raise Conflict(
                f"{product}: {count} requested, only {len(moved)} in the pool",
                code="insufficient_stock",
            )
        _insert_lines(session, document.id, items.kind, moved)
        audit.record(
            session,
            actor=actor,
            entity_type="outlet",
            entity_id=outlet.id,
            action="allocate",
            from_status=items.allocate_from,
            to_status=target,
            item_count=count,
            document_id=document.id,
            reason=f"{count} × {product} ({request.order.value}) for dealer {dealer.code}",
        )
    if any(items is NUMBERS for items, *_ in planned):
        _follow_sims(
            session,
            _numbers_of(document.id),
            [SimStatus.in_warehouse.value],
            {"status": SimStatus.allocated.value, "outlet_id": outlet.id},
        )
    session.commit()
    return channel_document(session, document)


# --- receipt --------------------------------------------------------------------------------


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


# --- discrepancies --------------------------------------------------------------------------


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


# --- returns to the centre, transfers -------------------------------------------------------


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
    _follow_sims(
        session,
        _numbers_of(document.id),
        [SimStatus.in_stock.value],
        {"status": SimStatus.allocated.value, "outlet_id": target.id},
    )
    session.commit()
    return channel_document(session, document)


# --- stock counts ---------------------------------------------------------------------------


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
