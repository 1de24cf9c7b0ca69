"""Items that move in the channel's stock documents: numbers and top-up cards (with the
SIM cards paired to numbers), read and written a chunk at a time."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Column, Select, Table, func, select, update
from sqlmodel import Session
from sqlmodel import select as sql_select

from backoffice.contracts.channel import (
    ChannelDocumentPublic,
)
from backoffice.contracts.common import DocumentLinePublic
from backoffice.domain.channel import (
    ItemKind,
    compress_ranges,
    number_product,
    voucher_product,
)
from backoffice.models import (
    DealerLedgerEntry,
    MobileNumber,
    Outlet,
    SimCard,
    StockDocument,
    StockDocumentLine,
    Voucher,
)
from backoffice.models.types import utcnow
from backoffice.services.bulk import insert_rows
from backoffice.services.channel.documents import get_document
from backoffice.services.errors import InvalidInput, NotFound
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


def send_off(
    session: Session, document: StockDocument, sims_from: Sequence[str], outlet_id: str
) -> ChannelDocumentPublic:
    """Ends a document that sends numbers to an outlet (an allocation, a transfer): the SIM
    cards paired to them go along as allocated to that outlet, and the document is committed."""
    _follow_sims(
        session,
        _numbers_of(document.id),
        sims_from,
        {"status": SimStatus.allocated.value, "outlet_id": outlet_id},
    )
    session.commit()
    return channel_document(session, document)


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
