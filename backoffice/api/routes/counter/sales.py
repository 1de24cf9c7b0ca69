"""The sales centre's side of sync: sales, the reconciliation queue, reservations sweep,
the activation outbox, and redemption checks for the charging system."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from backoffice.api.deps import (
    Admin,
    ChannelReader,
    ChargingSystem,
    KeysDep,
    PinCipherDep,
    SalesCentre,
    SessionDep,
    SettingsDep,
    dealer_scope,
)
from backoffice.contracts.counter import (
    DeliveryRun,
    OutboxEntryPublic,
    OutboxSummary,
    ReconciliationItem,
    ReconciliationResolve,
    RedemptionRequest,
    RedemptionResult,
    SalePublic,
)
from backoffice.services.channel import dealers, reservations
from backoffice.services.counter import activations, reconciliation, redemption, sales_read

router = APIRouter(tags=["sales centre"])


@router.get("/sales")
def list_sales(
    session: SessionDep,
    user: ChannelReader,
    outlet: Annotated[str | None, Query(description="outlet code or id")] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> list[SalePublic]:
    scope = dealer_scope(user)
    outlet_id = dealers.find_outlet(session, outlet, scope).id if outlet else None
    return sales_read.list_sales(session, scope, outlet_id, limit)


@router.get("/sales/{receipt_no}")
def get_sale(receipt_no: str, session: SessionDep, user: ChannelReader) -> SalePublic:
    return sales_read.get_sale(session, receipt_no, dealer_scope(user))


@router.get("/reconciliation")
def reconciliation_queue(
    session: SessionDep, user: ChannelReader, status: Literal["open", "resolved"] = "open"
) -> list[ReconciliationItem]:
    return reconciliation.reconciliation_queue(session, status, dealer_scope(user))


@router.post("/reconciliation/{event_id}/resolve")
def resolve(
    event_id: str,
    request: ReconciliationResolve,
    session: SessionDep,
    clerk: SalesCentre,
    settings: SettingsDep,
    keys: KeysDep,
) -> ReconciliationItem:
    """The sales centre's decision on a queued event (`kind`, default note): a manual sale is
    booked as if accepted (409 cannot_book when its items can no longer be sold); a refund or
    a write-off books nothing. The terminal learns the decision at its next pull."""
    return reconciliation.resolve(
        session, event_id, request, clerk.username, settings=settings, keys=keys
    )


@router.post("/reservations/expire")
def expire_reservations(session: SessionDep, clerk: SalesCentre) -> dict[str, int]:
    return {"expired": reservations.expire_reservations(session, clerk.username)}


@router.get("/activations")
def activation_entries(
    session: SessionDep,
    _: SalesCentre,
    status: Literal["pending", "delivered", "failed", "cancelled"] | None = None,
) -> list[OutboxEntryPublic]:
    return [OutboxEntryPublic.model_validate(e) for e in activations.entries(session, status)]


@router.get("/activations/summary")
def activation_summary(session: SessionDep, _: SalesCentre) -> OutboxSummary:
    return activations.summary(session)


@router.post("/activations/deliver")
def deliver_activations(session: SessionDep, settings: SettingsDep, _: Admin) -> DeliveryRun:
    return activations.deliver_due(session, settings)


@router.post("/activations/{entry_id}/retry")
def retry_activation(entry_id: str, session: SessionDep, admin: Admin) -> OutboxEntryPublic:
    return OutboxEntryPublic.model_validate(activations.retry(session, entry_id, admin.username))


@router.post("/vouchers/redeem")
def redeem_voucher(
    request: RedemptionRequest, session: SessionDep, system: ChargingSystem, cipher: PinCipherDep
) -> RedemptionResult:
    return redemption.redeem(session, request.serial, request.pin, cipher, system.username)
