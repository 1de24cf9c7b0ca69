"""Stock documents: numbering and creation of documents with their lines."""

from datetime import UTC, datetime

from sqlalchemy import text
from sqlmodel import Session, select

from backoffice.models import StockDocument, StockDocumentLine
from backoffice.services.errors import NotFound
from shared.codes import DocumentKind, format_document_number
from shared.ids import new_id

_NEXT_SEQ = text(
    "INSERT INTO document_counter (kind, day, last_seq) VALUES (:kind, :day, 1) "
    "ON CONFLICT (kind, day) DO UPDATE SET last_seq = document_counter.last_seq + 1 "
    "RETURNING last_seq"
)


def next_document_number(session: Session, kind: DocumentKind) -> str:
    # One upsert: concurrent callers serialize on the counter row, never share a number.
    day = datetime.now(UTC).date()
    seq = session.execute(_NEXT_SEQ, {"kind": kind.value, "day": day}).scalar_one()
    return format_document_number(kind, day, seq)


def create_document(
    session: Session,
    kind: DocumentKind,
    actor: str,
    lines: list[StockDocumentLine],
    status: str = "done",
    note: str = "",
) -> StockDocument:
    document = StockDocument(
        id=new_id(),
        number=next_document_number(session, kind),
        kind=kind.value,
        status=status,
        created_by=actor,
        note=note,
    )
    session.add(document)
    session.flush()
    for line in lines:
        line.document_id = document.id
        session.add(line)
    return document


def get_document(session: Session, number: str) -> tuple[StockDocument, list[StockDocumentLine]]:
    document = session.exec(select(StockDocument).where(StockDocument.number == number)).first()
    if document is None:
        raise NotFound(f"document {number} not found")
    lines = session.exec(
        select(StockDocumentLine).where(StockDocumentLine.document_id == document.id)
    ).all()
    return document, list(lines)
