"""Batch codes shared by number, SIM and top-up card batches."""

from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from backoffice.services.errors import Conflict, NotFound


def next_batch_code(session: Session, model: type, prefix: str) -> str:
    """`PREFIX-YYYYMMDD-NNN`, the next free one for today."""
    day = datetime.now(UTC).strftime("%Y%m%d")
    taken = session.exec(
        select(func.count())
        .select_from(model)
        .where(col(model.code).startswith(f"{prefix}-{day}-"))
    ).one()
    return f"{prefix}-{day}-{taken + 1:03d}"


def ensure_code_free(session: Session, model: type, code: str) -> None:
    if session.exec(select(model).where(model.code == code)).first() is not None:
        raise Conflict(f"batch code {code!r} is already used", code="batch_code_taken")


def find_by_code_or_id(session: Session, model: type, key: str, what: str):  # type: ignore[no-untyped-def]
    item = session.exec(select(model).where((model.code == key) | (model.id == key))).first()
    if item is None:
        raise NotFound(f"{what} {key!r} not found")
    return item
