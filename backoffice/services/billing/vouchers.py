"""Top-up card (充值卡) batches: importing or generating serials with encrypted PINs."""

import csv
import io
import secrets
from typing import IO

from sqlmodel import Session, col, select

from backoffice.contracts.billing import (
    GeneratedVouchers,
    ImportReport,
    VoucherBatchPublic,
    VoucherBatchTerms,
    VoucherGenerateRequest,
)
from backoffice.core.crypto import Cipher
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
) -> ImportReport:
    _check_terms(terms)
    if terms.code:
        ensure_code_free(session, VoucherBatch, terms.code)
    table = read_table(data, file, VOUCHER_COLUMNS, encoding, limits)
    checker = RowChecker(table)
    parsed = checker.parse_rows(
        {"serial": parse_voucher_serial, "pin": parse_voucher_pin}, ["serial"]
    )
    stored = existing_keys(session, Voucher.serial, sorted(s for s, _ in parsed.values()))
    for row in table.rows:
        if row.line in parsed and parsed[row.line][0] in stored:
            checker.reject(row, "serial", "already in the system")

    def write(good: list[Row]) -> tuple[str, str]:
        batch = _store(
            session, terms, [parsed[r.line] for r in good], cipher, actor, "file", file, progress
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
