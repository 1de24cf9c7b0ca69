"""Release (放号): a document that moves a batch out of the billing centre into the pool."""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from backoffice.contracts.common import DocumentLinePublic, DocumentPublic
from backoffice.core.i18n import N_
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
from backoffice.services.billing.tabular import Steps
from backoffice.services.billing.vouchers import find_voucher_batch
from backoffice.services.channel.documents import create_document, get_document
from backoffice.services.errors import Conflict, InvalidInput
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


# --- Releases that say how far they are (the pages' jobs), of a batch or of a selection -------

# Items moved per statement: a release of a million numbers reports its progress 50 times.
RELEASE_CHUNK = 20_000


@dataclass(frozen=True)
class NumberSelection:
    """The imported numbers a release takes: those of a batch, of a grade, in a range of
    numbers (first to last, both included), or any combination; at least one is given."""

    batch: NumberBatch | None = None
    grade: str | None = None
    first: str | None = None
    last: str | None = None

    def conditions(self) -> list[Any]:
        msisdn = col(MobileNumber.msisdn)
        found: list[Any] = []
        if self.batch is not None:
            # The batch's numbers lie between its first and last: the primary key's range.
            found += [
                MobileNumber.batch_id == self.batch.id,
                msisdn >= self.batch.first_msisdn,
                msisdn <= self.batch.last_msisdn,
            ]
        if self.grade:
            found.append(MobileNumber.grade_code == self.grade)
        if self.first:
            found.append(msisdn >= self.first)
        if self.last:
            found.append(msisdn <= self.last)
        if not found:
            raise InvalidInput(
                N_("Choose the numbers to release: a batch, a grade or a range of numbers."),
                code="empty_selection",
            )
        return found

    def describe(self) -> str:
        """The selection in words for the audit log (English, like the log's other reasons)."""
        parts = [f"batch {self.batch.code}"] if self.batch is not None else []
        parts += [f"grade {self.grade}"] if self.grade else []
        if self.first or self.last:
            parts.append(f"numbers {self.first or '…'}–{self.last or '…'}")
        return ", ".join(parts)


def _source_and_target(lifecycle: Lifecycle, action: StrEnum) -> tuple[str, str]:  # type: ignore[type-arg]
    (source,) = lifecycle.sources(action)
    return source.value, lifecycle.target(source, action).value


def releasable_numbers(session: Session, selection: NumberSelection) -> int:
    """How many numbers the selection would release now (for the confirmation)."""
    source, _ = _source_and_target(NUMBER_LIFECYCLE, NumberAction.release)
    return session.exec(
        select(func.count())
        .select_from(MobileNumber)
        .where(MobileNumber.status == source, *selection.conditions())
    ).one()


def releasable_vouchers(session: Session, batch: VoucherBatch) -> int:
    source, _ = _source_and_target(VOUCHER_LIFECYCLE, VoucherAction.release)
    return session.exec(
        select(func.count())
        .select_from(Voucher)
        .where(Voucher.batch_id == batch.id, Voucher.status == source)
    ).one()


def _move_in_chunks(
    session: Session,
    table: type[MobileNumber] | type[Voucher],
    key: Any,
    source: str,
    target: str,
    conditions: Sequence[Any],
    steps: Steps | None,
    phase: str,
) -> dict[str, list[str]]:
    """Moves the matching items from `source` to `target`, RELEASE_CHUNK at a time in key
    order: each chunk is a range of the primary key (up to the chunk's last matching key,
    found first), moved by one conditional statement, so an item frozen or moved meanwhile is
    not touched. Returns the keys moved, by batch id."""
    where = [table.status == source, *conditions]
    total = None
    if steps is not None:
        total = session.exec(select(func.count()).select_from(table).where(*where)).one()
        steps(0, total, phase)
    moved: dict[str, list[str]] = {}
    done, last = 0, ""
    connection = session.connection()
    while True:
        bound = connection.execute(
            select(key).where(*where, key > last).order_by(key).offset(RELEASE_CHUNK - 1).limit(1)
        ).scalar()
        chunk = [*where, key > last] + ([] if bound is None else [key <= bound])
        rows = connection.execute(
            update(table)
            .where(*chunk)
            .values(status=target, version=table.version + 1, updated_at=utcnow())
            .returning(key, table.batch_id)
        ).all()
        for item, batch_id in rows:
            moved.setdefault(batch_id, []).append(item)
        done += len(rows)
        if steps is not None:
            steps(done, total, phase)
        if bound is None:
            return moved
        last = bound


def _document_of_moves(
    session: Session,
    *,
    item_kind: str,
    batches: dict[str, NumberBatch | VoucherBatch],
    moved: dict[str, list[str]],
    source: str,
    target: str,
    actor: str,
    note: str,
    reason: str,
) -> DocumentPublic:
    """The release document of what was moved (a line per batch, in batch-code order), each
    batch pointing to it and its release audited, then committed."""
    lines = []
    for batch_id in sorted(moved, key=lambda b: batches[b].code):
        items = sorted(moved[batch_id])
        lines.append(
            StockDocumentLine(
                item_kind=item_kind,
                batch_id=batch_id,
                first_item=items[0],
                last_item=items[-1],
                item_count=len(items),
            )
        )
    document = create_document(session, DocumentKind.RL, actor, lines, note=note)
    for line in lines:
        batch = batches[line.batch_id]
        batch.release_document_id = document.id
        session.add(batch)
        audit.record(
            session,
            actor=actor,
            entity_type=f"{item_kind}_batch",
            entity_id=batch.id,
            action="release",
            from_status=source,
            to_status=target,
            item_count=line.item_count,
            document_id=document.id,
            reason=reason,
        )
    session.commit()
    return document_public(document, lines)


def release_selected_numbers(
    session: Session,
    selection: NumberSelection,
    actor: str,
    note: str = "",
    *,
    steps: Steps | None = None,
) -> DocumentPublic:
    """Releases the selection's imported numbers with one release document (a line per
    batch they belong to); `steps` hears how many are done."""
    source, target = _source_and_target(NUMBER_LIFECYCLE, NumberAction.release)
    moved = _move_in_chunks(
        session,
        MobileNumber,
        col(MobileNumber.msisdn),
        source,
        target,
        selection.conditions(),
        steps,
        N_("Releasing numbers"),
    )
    if not moved:
        session.rollback()
        raise Conflict(
            N_("Nothing to release: no imported number is left in %(selection)s."),
            code="nothing_to_release",
            params={"selection": selection.describe()},
        )
    batches: dict[str, NumberBatch | VoucherBatch] = {
        b.id: b
        for b in session.exec(select(NumberBatch).where(col(NumberBatch.id).in_(list(moved))))
    }
    return _document_of_moves(
        session,
        item_kind="number",
        batches=batches,
        moved=moved,
        source=source,
        target=target,
        actor=actor,
        note=note,
        reason=note or selection.describe(),
    )


def release_voucher_batch(
    session: Session,
    batch: VoucherBatch,
    actor: str,
    note: str = "",
    *,
    steps: Steps | None = None,
) -> DocumentPublic:
    """release_vouchers, a chunk at a time so that `steps` hears how many are done."""
    source, target = _source_and_target(VOUCHER_LIFECYCLE, VoucherAction.release)
    serial = col(Voucher.serial)
    conditions = [
        Voucher.batch_id == batch.id,
        serial >= batch.first_serial,
        serial <= batch.last_serial,
    ]
    moved = _move_in_chunks(
        session, Voucher, serial, source, target, conditions, steps, N_("Releasing top-up cards")
    )
    if not moved:
        session.rollback()
        raise Conflict(
            N_("Nothing to release: no top-up card of %(batch)s is waiting to be released."),
            code="nothing_to_release",
            params={"batch": batch.code},
        )
    return _document_of_moves(
        session,
        item_kind="voucher",
        batches={batch.id: batch},
        moved=moved,
        source=source,
        target=target,
        actor=actor,
        note=note,
        reason=note,
    )
