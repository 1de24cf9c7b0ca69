"""What the billing centre's stock pages read: batches a page at a time with their counts per
status and grade, past imports, release documents. Every list is a keyset page on an index
(newest first), and every count is grouped over one batch's rows, never over the whole
table."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from sqlalchemy import func
from sqlmodel import Session, col, select

from backoffice.models import (
    ImportJob,
    MobileNumber,
    NumberBatch,
    NumberGrade,
    SimBatch,
    SimCard,
    StockDocument,
    StockDocumentLine,
    Voucher,
    VoucherBatch,
)
from shared.codes import DocumentKind

BatchKind = Literal["numbers", "sims", "vouchers"]
BATCH_KINDS: Final[tuple[BatchKind, ...]] = ("numbers", "sims", "vouchers")
BatchModel = type[NumberBatch] | type[SimBatch] | type[VoucherBatch]
Batch = NumberBatch | SimBatch | VoucherBatch
_MODELS: Final[dict[str, BatchModel]] = {
    "numbers": NumberBatch,
    "sims": SimBatch,
    "vouchers": VoucherBatch,
}
IMPORT_KINDS: Final = ("numbers", "sims", "vouchers", "pairs")


def batch_model(kind: str) -> BatchModel | None:
    return _MODELS.get(kind)


def batch_by_code(session: Session, kind: str, code: str) -> Batch | None:
    """A batch of the kind by its code (the unique index), or None."""
    model = _MODELS.get(kind)
    if model is None or not code:
        return None
    return session.exec(select(model).where(col(model.code) == code)).first()


def batches_page(
    session: Session, kind: str, after: str | None = None, limit: int = 20
) -> tuple[list[Batch], str | None]:
    """The kind's batches, newest first (ids are time-ordered UUIDv7: the primary key
    serves), a keyset page after the batch id `after`; and the `after` of the next page."""
    model = _MODELS[kind]
    query = select(model).order_by(col(model.id).desc()).limit(limit + 1)
    if after:
        query = query.where(col(model.id) < after)
    rows = list(session.exec(query))
    page = rows[:limit]
    return page, (page[-1].id if len(rows) > limit else None)


def recent_codes(session: Session, kind: str, limit: int = 50) -> list[str]:
    """The newest batches' codes, for the forms' suggestions."""
    model = _MODELS[kind]
    return list(session.exec(select(model.code).order_by(col(model.id).desc()).limit(limit)))


@dataclass
class BatchCounts:
    """A batch's items per status, and for numbers per grade (and grade × status), with how
    many are paired (numbers with a SIM card, SIM cards with a number)."""

    total: int = 0
    paired: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_grade: dict[str, int] = field(default_factory=dict)
    cells: dict[tuple[str, str], int] = field(default_factory=dict)  # (grade, status) → count
    grade_names: dict[str, str] = field(default_factory=dict)  # in rank order


def batch_counts(session: Session, kind: str, batch_id: str) -> BatchCounts:
    """One grouped query over the batch's own rows (its index on batch_id)."""
    if kind == "numbers":
        return _number_counts(session, batch_id)
    if kind == "sims":
        rows = session.exec(
            select(SimCard.status, func.count(), func.count(col(SimCard.msisdn)))
            .where(SimCard.batch_id == batch_id)
            .group_by(SimCard.status)
        ).all()
        return _counts([(status, "", n, paired) for status, n, paired in rows])
    rows = session.exec(
        select(Voucher.status, func.count())
        .where(Voucher.batch_id == batch_id)
        .group_by(Voucher.status)
    ).all()
    return _counts([(status, "", n, 0) for status, n in rows])


def _number_counts(session: Session, batch_id: str) -> BatchCounts:
    rows = session.exec(
        select(
            MobileNumber.status,
            MobileNumber.grade_code,
            func.count(),
            func.count(col(MobileNumber.iccid)),
        )
        .where(MobileNumber.batch_id == batch_id)
        .group_by(MobileNumber.status, MobileNumber.grade_code)
    ).all()
    counts = _counts(list(rows))
    grades = session.exec(
        select(NumberGrade.code, NumberGrade.name).order_by(col(NumberGrade.rank))
    ).all()
    counts.grade_names = {code: name for code, name in grades if code in counts.by_grade}
    # A grade no longer in the table (renamed meanwhile) still shows, last.
    for code in sorted(counts.by_grade):
        counts.grade_names.setdefault(code, code)
    return counts


def _counts(rows: list[tuple[str, str, int, int]]) -> BatchCounts:
    by_status: Counter[str] = Counter()
    by_grade: Counter[str] = Counter()
    counts = BatchCounts()
    for status, grade, n, paired in rows:
        by_status[status] += n
        if grade:
            by_grade[grade] += n
            counts.cells[(grade, status)] = n
        counts.total += n
        counts.paired += paired
    counts.by_status = dict(sorted(by_status.items()))
    counts.by_grade = dict(by_grade)
    return counts


@dataclass(frozen=True)
class PairingCounts:
    unpaired_numbers: int
    free_sims: int


def pairing_counts(
    session: Session, numbers: NumberBatch, sims: SimBatch, pairable: tuple[str, ...]
) -> PairingCounts:
    """What pairing the two batches in order would take: the number batch's unpaired numbers
    in a pairable status, the SIM batch's free cards in the warehouse."""
    unpaired = session.exec(
        select(func.count())
        .select_from(MobileNumber)
        .where(MobileNumber.batch_id == numbers.id)
        .where(col(MobileNumber.iccid).is_(None))
        .where(col(MobileNumber.status).in_(pairable))
    ).one()
    free = session.exec(
        select(func.count())
        .select_from(SimCard)
        .where(SimCard.batch_id == sims.id)
        .where(col(SimCard.msisdn).is_(None))
        .where(SimCard.status == "in_warehouse")
    ).one()
    return PairingCounts(unpaired, free)


@dataclass(frozen=True)
class ImportRow:
    """A past import as the list shows it (without its report and rejected rows)."""

    id: str
    kind: str
    file_name: str
    outcome: str
    total_rows: int
    accepted_rows: int
    rejected_rows: int
    created_by: str
    created_at: datetime


_IMPORT_COLUMNS = tuple(getattr(ImportJob, name) for name in ImportRow.__dataclass_fields__)


def imports_page(
    session: Session, kind: str | None = None, after: str | None = None, limit: int = 50
) -> tuple[list[ImportRow], str | None]:
    """Past imports, newest first (time-ordered ids: the primary key), of one kind or all."""
    query = select(*_IMPORT_COLUMNS).order_by(col(ImportJob.id).desc()).limit(limit + 1)
    if kind:
        query = query.where(ImportJob.kind == kind)
    if after:
        query = query.where(col(ImportJob.id) < after)
    rows = [ImportRow(*row) for row in session.exec(query).all()]
    page = rows[:limit]
    return page, (page[-1].id if len(rows) > limit else None)


def import_batch_code(session: Session, job: ImportJob) -> str | None:
    """The code of the batch an import made (none for a pairing or a refused import)."""
    if job.batch_id is None:
        return None
    model = {"numbers": NumberBatch, "sims": SimBatch, "vouchers": VoucherBatch}.get(job.kind)
    batch = None if model is None else session.get(model, job.batch_id)
    return None if batch is None else batch.code


@dataclass(frozen=True)
class ReleaseLine:
    item_kind: str
    batch_code: str
    first_item: str
    last_item: str
    item_count: int


@dataclass(frozen=True)
class Release:
    document: StockDocument
    lines: list[ReleaseLine]

    @property
    def item_count(self) -> int:
        return sum(line.item_count for line in self.lines)


# Release document numbers are RL, the day, the sequence: all of them sort from RL up to RM.
_RELEASES_FROM, _RELEASES_TO = DocumentKind.RL.value, "RM"


def releases_page(
    session: Session, after: str | None = None, limit: int = 30
) -> tuple[list[Release], str | None]:
    """Release documents, newest first: their numbers start with RL and the day, so a range
    of the numbers' unique index read backwards; the page's lines in one more query."""
    number = col(StockDocument.number)
    query = (
        select(StockDocument)
        .where(number >= _RELEASES_FROM, number < _RELEASES_TO)
        .order_by(number.desc())
        .limit(limit + 1)
    )
    if after:
        query = query.where(number < after)
    documents = list(session.exec(query))
    page = documents[:limit]
    lines = _lines_of(session, [d.id for d in page])
    releases = [Release(d, lines.get(d.id, [])) for d in page]
    return releases, (page[-1].number if len(documents) > limit else None)


def release(session: Session, number: str) -> Release | None:
    """A release document by its number, with its lines; None if there is none."""
    document = session.exec(
        select(StockDocument).where(StockDocument.number == number.strip().upper())
    ).first()
    if document is None or document.kind != DocumentKind.RL.value:
        return None
    return Release(document, _lines_of(session, [document.id]).get(document.id, []))


def release_by_id(session: Session, document_id: str) -> Release | None:
    document = session.get(StockDocument, document_id)
    if document is None or document.kind != DocumentKind.RL.value:
        return None
    return Release(document, _lines_of(session, [document.id]).get(document.id, []))


def _lines_of(session: Session, document_ids: list[str]) -> dict[str, list[ReleaseLine]]:
    if not document_ids:
        return {}
    rows = session.exec(
        select(StockDocumentLine)
        .where(col(StockDocumentLine.document_id).in_(document_ids))
        .order_by(col(StockDocumentLine.id))
    ).all()
    codes = _batch_codes(session, rows)
    found: dict[str, list[ReleaseLine]] = {}
    for line in rows:
        found.setdefault(line.document_id, []).append(
            ReleaseLine(
                item_kind=line.item_kind,
                batch_code=codes.get(line.batch_id, line.batch_id),
                first_item=line.first_item,
                last_item=line.last_item,
                item_count=line.item_count,
            )
        )
    return found


def _batch_codes(session: Session, lines: list[StockDocumentLine]) -> dict[str, str]:
    codes: dict[str, str] = {}
    for kind, model in (("number", NumberBatch), ("voucher", VoucherBatch), ("sim", SimBatch)):
        ids = sorted({line.batch_id for line in lines if line.item_kind == kind})
        if ids:
            rows = session.exec(select(model.id, model.code).where(col(model.id).in_(ids))).all()
            codes.update(dict(rows))
    return codes
