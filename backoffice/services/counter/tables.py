"""The tables the counter writes with Core statements, and the states that count as sold."""

from backoffice.models import (
    ActivationOutbox,
    MobileNumber,
    NumberReservation,
    Sale,
    SimCard,
    Voucher,
)
from shared.lifecycle import NumberStatus, VoucherStatus

NUMBERS = MobileNumber.__table__  # type: ignore[attr-defined]
VOUCHERS = Voucher.__table__  # type: ignore[attr-defined]
RESERVATIONS = NumberReservation.__table__  # type: ignore[attr-defined]
SIMS = SimCard.__table__  # type: ignore[attr-defined]
SALES = Sale.__table__  # type: ignore[attr-defined]
OUTBOX = ActivationOutbox.__table__  # type: ignore[attr-defined]
SOLD_NUMBER = {NumberStatus.sold.value, NumberStatus.active.value, NumberStatus.cooling.value}
SOLD_VOUCHER = {
    VoucherStatus.active.value,
    VoucherStatus.redeemed.value,
    VoucherStatus.expired.value,
}
