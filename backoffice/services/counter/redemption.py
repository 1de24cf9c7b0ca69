"""Redemption checks from the operator's charging system: serial + PIN → valid (and marked
redeemed, exactly once), already used, frozen, expired or not sold."""

import hmac
from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import Session

from backoffice.contracts.counter import RedemptionResult
from backoffice.core.crypto import Cipher
from backoffice.models import Voucher, VoucherBatch
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.counter.tables import VOUCHERS
from backoffice.services.statistics import summaries
from shared.lifecycle import VoucherStatus

_ANSWERS = {
    VoucherStatus.redeemed.value: "already_used",
    VoucherStatus.frozen.value: "frozen",
    VoucherStatus.voided.value: "frozen",
    VoucherStatus.expired.value: "expired",
}


def redeem(session: Session, serial: str, pin: str, cipher: Cipher, actor: str) -> RedemptionResult:
    voucher = session.get(Voucher, serial)
    if voucher is None:
        return RedemptionResult(serial=serial, result="invalid")
    if not hmac.compare_digest(cipher.decrypt(serial, voucher.pin_cipher), pin):
        # Wrong PINs are logged: a run of them on one serial is someone guessing.
        audit.record(
            session,
            actor=actor,
            entity_type="voucher",
            entity_id=serial,
            action="redeem_refused",
            reason="wrong PIN",
        )
        session.commit()
        return RedemptionResult(serial=serial, result="invalid")
    batch = session.get(VoucherBatch, voucher.batch_id)
    if batch is not None and batch.expires_on < datetime.now(UTC).date():
        return RedemptionResult(serial=serial, result="expired")
    # The one statement that decides: of any number of concurrent checks, one sees a row.
    redeemed = (
        session.connection()
        .execute(
            update(VOUCHERS)
            .where(VOUCHERS.c.serial == serial)
            .where(VOUCHERS.c.status == VoucherStatus.active.value)
            .values(
                status=VoucherStatus.redeemed.value,
                version=VOUCHERS.c.version + 1,
                updated_at=utcnow(),
            )
        )
        .rowcount
    )
    if redeemed:
        recorded = audit.record(
            session,
            actor=actor,
            entity_type="voucher",
            entity_id=serial,
            action="redeem",
            from_status=VoucherStatus.active.value,
            to_status=VoucherStatus.redeemed.value,
        )
        # Counted at the audit entry's instant, which is what a rebuild reads it from.
        entry = summaries.redemption_entry(session, voucher, recorded.at)
        if entry is not None:
            summaries.record(session, [entry])
        session.commit()
        return RedemptionResult(
            serial=serial, result="valid", face_value_fen=voucher.face_value_fen
        )
    session.rollback()
    session.refresh(voucher)
    return RedemptionResult(serial=serial, result=_ANSWERS.get(voucher.status, "not_sold"))
