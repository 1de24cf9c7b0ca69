"""Top-up card (充值卡) batches: importing or generating serials with encrypted PINs."""

import csv
import io
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from sqlalchemy import func
from sqlmodel import Session, col, select

from backoffice.contracts.billing import (
    GeneratedVouchers,
    ImportReport,
    VoucherBatchPublic,
    VoucherBatchTerms,
    VoucherGenerateRequest,
)
from backoffice.core.crypto import Cipher
from backoffice.core.i18n import N_
from backoffice.models import Voucher, VoucherBatch
from backoffice.services import audit
from backoffice.services.billing.batches import (
    ensure_code_free,
    find_by_code_or_id,
    next_batch_code,
)
from backoffice.services.billing.numbers import Progress, existing_keys
from backoffice.services.billing.tabular import (
    Columns,
    ImportLimits,
    Row,
    RowChecker,
    Steps,
    counting,
    finish_import,
    read_table,
)
from backoffice.services.bulk import db_timestamp, insert_rows
from backoffice.services.errors import Conflict, InvalidInput, NotFound
from shared.codes import parse_voucher_pin, parse_voucher_serial
from shared.ids import new_id
from shared.lifecycle import VoucherStatus

VOUCHER_COLUMNS = Columns(
    required=("serial", "pin"), aliases=(("序列号", "serial"), ("密码", "pin"))
)
PIN_DIGITS = 19
_COLUMNS = ("serial", "batch_id", "face_value_fen", "pin_cipher", "status", "version", "updated_at")


def _check_terms(terms: VoucherBatchTerms) -> None:
    if terms.dealer_price_fen > terms.face_value_fen:
        raise InvalidInput(
            f"dealer price {terms.dealer_price_fen} fen is above the face value "
            f"{terms.face_value_fen} fen",
            code="invalid_dealer_price",
        )


def _store(
    session: Session,
    terms: VoucherBatchTerms,
    cards: list[tuple[str, str]],
    cipher: Cipher,
    actor: str,
    source: str,
    source_name: str,
    progress: Progress | None,
) -> VoucherBatch:
    serials = sorted(s for s, _ in cards)
    batch = VoucherBatch(
        id=new_id(),
        code=terms.code
        or next_batch_code(session, VoucherBatch, f"CARD{terms.face_value_fen // 100}"),
        source=source,
        source_name=source_name,
        face_value_fen=terms.face_value_fen,
        dealer_price_fen=terms.dealer_price_fen,
        expires_on=terms.expires_on,
        first_serial=serials[0],
        last_serial=serials[-1],
        item_count=len(cards),
        created_by=actor,
    )
    session.add(batch)
    session.flush()
    stamp = db_timestamp()
    status = VoucherStatus.generated.value
    rows = (
        (serial, batch.id, terms.face_value_fen, cipher.encrypt(serial, pin), status, 1, stamp)
        for serial, pin in cards
    )
    insert_rows(session, "voucher", _COLUMNS, rows, progress)
    audit.record(
        session,
        actor=actor,
        entity_type="voucher_batch",
        entity_id=batch.id,
        action=source,
        to_status=status,
        item_count=len(cards),
        reason=f"{source_name}; face value {terms.face_value_fen} fen",
    )
    return batch


def import_vouchers(
    session: Session,
    data: bytes | IO[bytes],
    file: str,
    terms: VoucherBatchTerms,
    cipher: Cipher,
    actor: str,
    *,
    skip_bad_rows: bool = False,
    encoding: str = "utf-8",
    progress: Progress | None = None,
    limits: ImportLimits | None = None,
    steps: Steps | None = None,
) -> ImportReport:
    """Top-up cards from a file as one batch, PINs encrypted; `steps` hears how far each
    step is."""
    _check_terms(terms)
    if terms.code:
        ensure_code_free(session, VoucherBatch, terms.code)
    table = read_table(data, file, VOUCHER_COLUMNS, encoding, limits, steps)
    checker = RowChecker(table, steps)
    parsed = checker.parse_rows(
        {"serial": parse_voucher_serial, "pin": parse_voucher_pin}, ["serial"]
    )
    serials = sorted(s for s, _ in parsed.values())
    stored = existing_keys(session, Voucher.serial, serials, steps)
    for row in table.rows:
        if row.line in parsed and parsed[row.line][0] in stored:
            checker.reject(row, "serial", "already in the system")

    def write(good: list[Row]) -> tuple[str, str]:
        writing = counting(steps, len(good), N_("Writing top-up cards"), progress)
        batch = _store(
            session, terms, [parsed[r.line] for r in good], cipher, actor, "file", file, writing
        )
        return batch.id, batch.code

    return finish_import(
        session,
        kind="vouchers",
        checker=checker,
        actor=actor,
        skip_bad_rows=skip_bad_rows,
        write=write,
    )


def generate_vouchers(
    session: Session,
    request: VoucherGenerateRequest,
    cipher: Cipher,
    actor: str,
    progress: Progress | None = None,
) -> GeneratedVouchers:
    """Creates consecutive serials with random PINs; the PINs leave the system only here."""
    _check_terms(request)
    if request.code:
        ensure_code_free(session, VoucherBatch, request.code)
    first = int(parse_voucher_serial(request.first_serial))
    last = first + request.count - 1
    if last >= 10**17:
        raise InvalidInput(
            f"{request.count} serials from {request.first_serial} overflow 17 digits"
        )
    first_serial, last_serial = f"{first:017d}", f"{last:017d}"
    clash = session.exec(
        select(Voucher.serial)
        .where(col(Voucher.serial).between(first_serial, last_serial))
        .limit(1)
    ).first()
    if clash:
        raise Conflict(
            f"serials {first_serial}–{last_serial} overlap card {clash} already in the system",
            code="vouchers_exist",
        )
    cards = [
        (f"{n:017d}", f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}")
        for n in range(first, last + 1)
    ]
    batch = _store(
        session,
        request,
        cards,
        cipher,
        actor,
        "generated",
        f"{first_serial}-{last_serial}",
        progress,
    )
    session.commit()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["serial", "pin"])
    writer.writerows(cards)
    return GeneratedVouchers(
        batch=VoucherBatchPublic.model_validate(batch), pins_csv=out.getvalue()
    )


def find_voucher_batch(session: Session, key: str) -> VoucherBatch:
    return find_by_code_or_id(session, VoucherBatch, key, "top-up card batch")


def list_voucher_batches(session: Session, limit: int = 100) -> list[VoucherBatch]:
    return list(
        session.exec(select(VoucherBatch).order_by(col(VoucherBatch.id).desc()).limit(limit))
    )


def get_voucher(session: Session, serial: str) -> Voucher:
    voucher = session.get(Voucher, serial.strip())
    if voucher is None:
        raise NotFound(f"top-up card {serial} not found")
    return voucher


# --- The billing centre's pages: batches, a batch's cards, a card (never its PIN) -------------


def voucher_batches_page(
    session: Session, after: str | None = None, limit: int = 50
) -> tuple[list[VoucherBatch], str | None]:
    """Newest batches first, a keyset page after the batch id `after`."""
    query = select(VoucherBatch).order_by(col(VoucherBatch.id).desc()).limit(limit + 1)
    if after:
        query = query.where(col(VoucherBatch.id) < after)
    rows = list(session.exec(query))
    page = rows[:limit]
    return page, (page[-1].id if len(rows) > limit else None)


def voucher_status_counts(session: Session, batch_id: str) -> dict[str, int]:
    """The batch's cards per status (ix_voucher_batch_status: an index-only count)."""
    rows = session.exec(
        select(Voucher.status, func.count())
        .where(Voucher.batch_id == batch_id)
        .group_by(Voucher.status)
    ).all()
    return dict(sorted(rows))


@dataclass(frozen=True)
class VoucherRow:
    """A card as the pages show it: everything but its PIN."""

    serial: str
    batch_id: str
    face_value_fen: int
    status: str
    held_from: str | None
    outlet_id: str | None
    prev_outlet_id: str | None
    document_id: str | None
    updated_at: datetime


# The columns read for the pages: never pin_cipher.
_SHOWN = tuple(getattr(Voucher, name) for name in VoucherRow.__dataclass_fields__)


def batch_vouchers(
    session: Session,
    batch: VoucherBatch,
    status: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[VoucherRow], str | None]:
    """The batch's cards in serial order, a keyset page after the serial `after`. The batch's
    serials are a range of the primary key: the page reads that range in order."""
    query = (
        select(*_SHOWN)
        .where(Voucher.batch_id == batch.id)
        .where(col(Voucher.serial).between(batch.first_serial, batch.last_serial))
    )
    if status:
        if status not in VoucherStatus.__members__:
            raise InvalidInput(f"unknown top-up card status {status!r}", code="invalid_status")
        query = query.where(Voucher.status == status)
    if after:
        query = query.where(col(Voucher.serial) > after)
    rows = session.exec(query.order_by(col(Voucher.serial)).limit(limit + 1)).all()
    page = [VoucherRow(*row) for row in rows[:limit]]
    return page, (page[-1].serial if len(rows) > limit else None)


def voucher_row(session: Session, serial: str) -> tuple[VoucherRow, VoucherBatch]:
    """One card (without its PIN) and its batch."""
    row = session.exec(select(*_SHOWN).where(Voucher.serial == serial)).first()
    if row is None:
        raise NotFound(
            N_("Top-up card %(serial)s is not in the system."),
            code="voucher_not_found",
            params={"serial": serial},
        )
    card = VoucherRow(*row)
    batch = session.get(VoucherBatch, card.batch_id)
    assert batch is not None  # a foreign key
    return card, batch
