"""Release (放号): a document that moves a batch out of the billing centre into the pool."""

from enum import StrEnum

from sqlalchemy import update
from sqlmodel import Session

from backoffice.contracts.common import DocumentLinePublic, DocumentPublic
from backoffice.models import (
    MobileNumber,
    NumberBatch,
    StockDocument,
    StockDocumentLine,
    Voucher,
    VoucherBatch,
)
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.billing.numbers import find_batch
from backoffice.services.billing.vouchers import find_voucher_batch
from backoffice.services.channel.documents import create_document, get_document
from backoffice.services.errors import Conflict
from shared.codes import DocumentKind
from shared.lifecycle import (
    NUMBER_LIFECYCLE,
    VOUCHER_LIFECYCLE,
    Lifecycle,
    NumberAction,
    VoucherAction,
)


def _release(
    session: Session,
    *,
    item_kind: str,
    batch: NumberBatch | VoucherBatch,
    table: type[MobileNumber] | type[Voucher],
    key,  # type: ignore[no-untyped-def]
    lifecycle: Lifecycle,  # type: ignore[type-arg]
    action: StrEnum,
    actor: str,
    note: str,
) -> DocumentPublic:
    (source,) = lifecycle.sources(action)  # release has one source status per lifecycle
    target = lifecycle.target(source, action).value
    # One conditional statement: items frozen or moved meanwhile are simply not touched.
    moved = (
        session.connection()
        .execute(
            update(table)
            .where(table.batch_id == batch.id)
            .where(table.status == source.value)
            .values(status=target, version=table.version + 1, updated_at=utcnow())
            .returning(key)
        )
        .scalars()
        .all()
    )
    if not moved:
        session.rollback()
        raise Conflict(f"{batch.code}: nothing left to release", code="nothing_to_release")
    moved.sort()
    line = StockDocumentLine(
        item_kind=item_kind,
        batch_id=batch.id,
        first_item=moved[0],
        last_item=moved[-1],
        item_count=len(moved),
    )
    document = create_document(session, DocumentKind.RL, actor, [line], note=note)
    batch.release_document_id = document.id
    session.add(batch)
    audit.record(
        session,
        actor=actor,
        entity_type=f"{item_kind}_batch",
        entity_id=batch.id,
        action="release",
        from_status=source.value,
        to_status=target,
        item_count=len(moved),
        document_id=document.id,
        reason=note,
    )
    session.commit()
    return document_public(document, [line])


def release_numbers(session: Session, batch_key: str, actor: str, note: str = "") -> DocumentPublic:
    batch = find_batch(session, batch_key)
    return _release(
        session,
        item_kind="number",
        batch=batch,
        table=MobileNumber,
        key=MobileNumber.msisdn,
        lifecycle=NUMBER_LIFECYCLE,
        action=NumberAction.release,
        actor=actor,
        note=note,
    )


def release_vouchers(
    session: Session, batch_key: str, actor: str, note: str = ""
) -> DocumentPublic:
    batch = find_voucher_batch(session, batch_key)
    return _release(
        session,
        item_kind="voucher",
        batch=batch,
        table=Voucher,
        key=Voucher.serial,
        lifecycle=VOUCHER_LIFECYCLE,
        action=VoucherAction.release,
        actor=actor,
        note=note,
    )


def document_public(document: StockDocument, lines: list[StockDocumentLine]) -> DocumentPublic:
    return DocumentPublic(
        id=document.id,
        number=document.number,
        kind=document.kind,
        status=document.status,
        created_by=document.created_by,
        created_at=document.created_at,
        note=document.note,
        lines=[DocumentLinePublic.model_validate(line) for line in lines],
    )


def release_document(session: Session, number: str) -> DocumentPublic:
    return document_public(*get_document(session, number))
