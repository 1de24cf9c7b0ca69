"""SIM batches and pairing, top-up card batches, release documents, the audit log."""

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from backoffice.contracts.billing import SegmentRequest, VoucherBatchTerms, VoucherGenerateRequest
from backoffice.core.crypto import Cipher
from backoffice.models import AuditEntry, MobileNumber, SimCard, Voucher
from backoffice.services.billing import numbers, releases, sims, vouchers
from backoffice.services.errors import Conflict, ImportRejected, InvalidInput
from shared.codes import parse_document_number
from tests.backoffice.helpers import csv_bytes, iccid

CIPHER = Cipher("pin", [b"k" * 32])
TERMS = VoucherBatchTerms(
    face_value_fen=5000, dealer_price_fen=4850, expires_on=date(2099, 12, 31), code="CARD50-A"
)


def _sim_file(count: int, first: int = 0) -> bytes:
    return csv_bytes(
        "iccid,imsi", *(f"{iccid(n)},46000571{n:07d}" for n in range(first, first + count))
    )


def _segment(session: Session, end: int = 99) -> str:
    return numbers.generate_segment(
        session, SegmentRequest(prefix="1390575", start=0, end=end, code="SEG-A"), "billing1"
    ).code


def test_import_sims_and_pair_in_order(session: Session) -> None:
    _segment(session, end=9)
    report = sims.import_sims(session, _sim_file(12), "sims.csv", "billing1", code="SIM-A")
    assert (report.accepted_rows, report.batch_code) == (12, "SIM-A")
    result = sims.pair_in_order(session, "SEG-A", "SIM-A", "billing1")
    assert (result.paired, result.unpaired_numbers, result.unpaired_sims) == (10, 0, 2)
    assert result.first_pair == ("13905750000", iccid(0))
    assert numbers.get_number(session, "13905750009").iccid == iccid(9)
    assert sims.get_sim(session, iccid(9)).msisdn == "13905750009"
    with pytest.raises(Conflict, match="nothing to pair"):
        sims.pair_in_order(session, "SEG-A", "SIM-A", "billing1")


def test_bad_iccid_check_digit_and_duplicates_are_reported(session: Session) -> None:
    good = iccid(1)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    data = csv_bytes(
        "iccid,imsi",
        f"{good},460005710000001",
        f"{bad},460005710000002",
        f"{good},460005710000003",
        f"{iccid(4)},46000571000000",
    )
    with pytest.raises(ImportRejected) as rejected:
        sims.import_sims(session, data, "sims.csv", "billing1")
    errors = {e.line: (e.column, e.reason) for e in rejected.value.report.errors}
    assert errors[3][0] == "iccid" and "check digit" in errors[3][1]
    assert errors[4] == ("iccid", "duplicate of line 2")
    assert errors[5][0] == "imsi"
    assert session.exec(select(SimCard)).all() == []


def test_pairing_from_a_file_checks_both_sides(session: Session) -> None:
    _segment(session, end=9)
    sims.import_sims(session, _sim_file(3), "sims.csv", "billing1", code="SIM-A")
    data = csv_bytes(
        "msisdn,iccid",
        f"13905750001,{iccid(0)}",
        f"13905750002,{iccid(1)}",
        f"13905759999,{iccid(2)}",
        f"13905750003,{iccid(1)}",
    )
    with pytest.raises(ImportRejected) as rejected:
        sims.import_pairs(session, data, "pairs.csv", "billing1")
    errors = {e.line: (e.column, e.reason) for e in rejected.value.report.errors}
    assert errors == {4: ("msisdn", "not in the system"), 5: ("iccid", "duplicate of line 3")}
    assert numbers.get_number(session, "13905750001").iccid is None
    report = sims.import_pairs(session, data, "pairs.csv", "billing1", skip_bad_rows=True)
    assert report.accepted_rows == 2
    assert numbers.get_number(session, "13905750002").iccid == iccid(1)


def test_vouchers_import_encrypts_pins(session: Session) -> None:
    data = csv_bytes(
        "serial,pin",
        "10575000000000001,1234567890123456789",
        "10575000000000002,9876543210987654321",
    )
    report = vouchers.import_vouchers(session, data, "cards.csv", TERMS, CIPHER, "billing1")
    assert report.accepted_rows == 2
    card = session.get(Voucher, "10575000000000001")
    assert card is not None and card.status == "generated" and card.face_value_fen == 5000
    assert "1234567890123456789" not in card.pin_cipher
    assert CIPHER.decrypt(card.serial, card.pin_cipher) == "1234567890123456789"
    with pytest.raises(ValueError, match="does not decrypt"):
        CIPHER.decrypt("10575000000000002", card.pin_cipher)


def test_voucher_bad_rows(session: Session) -> None:
    data = csv_bytes(
        "serial,pin",
        "1057500000000000,1234567890123456789",
        "10575000000000002,12ab",
        "10575000000000002,1234567890123456",
    )
    with pytest.raises(ImportRejected) as rejected:
        vouchers.import_vouchers(session, data, "cards.csv", TERMS, CIPHER, "billing1")
    assert {(e.line, e.column) for e in rejected.value.report.errors} == {(2, "serial"), (3, "pin")}


def test_dealer_price_above_face_value_is_refused(session: Session) -> None:
    terms = TERMS.model_copy(update={"dealer_price_fen": 5001})
    with pytest.raises(InvalidInput, match="above the face value"):
        vouchers.import_vouchers(session, csv_bytes("serial,pin"), "c.csv", terms, CIPHER, "b")


def test_generated_vouchers_show_pins_once(session: Session) -> None:
    request = VoucherGenerateRequest(
        **TERMS.model_dump(), first_serial="10575000000000001", count=5
    )
    result = vouchers.generate_vouchers(session, request, CIPHER, "billing1")
    lines = result.pins_csv.splitlines()
    assert lines[0] == "serial,pin" and len(lines) == 6
    serial, pin = lines[1].split(",")
    assert len(pin) == 19
    stored = session.get(Voucher, serial)
    assert stored is not None and CIPHER.decrypt(serial, stored.pin_cipher) == pin
    with pytest.raises(Conflict, match="overlap"):
        vouchers.generate_vouchers(
            session, request.model_copy(update={"code": "OTHER"}), CIPHER, "billing1"
        )


def test_release_moves_the_batch_with_a_document(session: Session) -> None:
    _segment(session)
    frozen = session.get(MobileNumber, "13905750007")
    assert frozen is not None
    frozen.status, frozen.held_from = "frozen", "imported"
    session.add(frozen)
    session.commit()
    document = releases.release_numbers(session, "SEG-A", "billing1", "first release")
    assert parse_document_number(document.number).kind == "RL"
    assert document.lines[0].item_count == 99
    assert (document.lines[0].first_item, document.lines[0].last_item) == (
        "13905750000",
        "13905750099",
    )
    assert numbers.get_number(session, "13905750001").status == "available"
    assert numbers.get_number(session, "13905750007").status == "frozen"
    assert releases.release_document(session, document.number).created_by == "billing1"
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "release")).one()
    assert (entry.from_status, entry.to_status, entry.item_count) == ("imported", "available", 99)
    assert entry.document_id == document.id
    with pytest.raises(Conflict, match="nothing left to release"):
        releases.release_numbers(session, "SEG-A", "billing1")


def test_release_vouchers(session: Session) -> None:
    request = VoucherGenerateRequest(
        **TERMS.model_dump(), first_serial="10575000000000001", count=3
    )
    vouchers.generate_vouchers(session, request, CIPHER, "billing1")
    document = releases.release_vouchers(session, "CARD50-A", "billing1")
    assert document.lines[0].item_count == 3
    assert vouchers.get_voucher(session, "10575000000000002").status == "in_warehouse"


def test_two_releases_get_distinct_document_numbers(session: Session) -> None:
    _segment(session, end=9)
    request = VoucherGenerateRequest(
        **TERMS.model_dump(), first_serial="10575000000000001", count=3
    )
    vouchers.generate_vouchers(session, request, CIPHER, "billing1")
    first = releases.release_numbers(session, "SEG-A", "billing1").number
    second = releases.release_vouchers(session, "CARD50-A", "billing1").number
    assert first != second
    assert parse_document_number(second).seq == parse_document_number(first).seq + 1


def test_audit_log_is_append_only(session: Session) -> None:
    _segment(session, end=9)
    for statement in ("UPDATE audit_entry SET actor = 'mallory'", "DELETE FROM audit_entry"):
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
        session.rollback()
    assert session.exec(select(AuditEntry)).one().actor == "billing1"
