"""Single-item lifecycle moves: freezing and unfreezing numbers and top-up cards, voiding a
card, deactivating a number (into cooling), writing a SIM card off. Billing clerks (and
admins); each move needs a reason, which the audit log records."""

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter
from sqlmodel import Session

from backoffice.api.deps import BillingClerk, SessionDep, SettingsDep
from backoffice.contracts.billing import LifecycleMovePublic, LifecycleMoveRequest
from backoffice.services.billing import holds
from backoffice.services.errors import Conflict, InvalidInput, NotFound

router = APIRouter(tags=["holds"])

REFUSALS: dict[int | str, dict[str, str]] = {
    404: {"description": "no such item (`number_not_found`, `voucher_not_found`, …)"},
    409: {
        "description": "the item's lifecycle does not allow the move from its status "
        "(`illegal_transition`), or it kept changing meanwhile (`item_changed`)"
    },
}


@contextmanager
def _refusals() -> Iterator[None]:
    """The services' typed refusals as the base errors the app maps to statuses (404, 409,
    422): the handler maps each base class, not its subclasses."""
    try:
        yield
    except NotFound as exc:
        raise NotFound(str(exc), exc.code) from exc
    except Conflict as exc:
        raise Conflict(str(exc), exc.code) from exc
    except InvalidInput as exc:
        raise InvalidInput(str(exc), exc.code) from exc


def _move(
    do: holds.Move, session: Session, key: str, request: LifecycleMoveRequest, actor: str
) -> LifecycleMovePublic:
    with _refusals():
        return do(session, key, request.reason, actor)


@router.post("/numbers/{msisdn}/freeze", responses=REFUSALS)
def freeze_number(
    msisdn: str, request: LifecycleMoveRequest, session: SessionDep, clerk: BillingClerk
) -> LifecycleMovePublic:
    """Admin hold on a number not yet sold; `held_from` is where the unfreeze returns it."""
    return _move(holds.freeze_number, session, msisdn, request, clerk.username)


@router.post("/numbers/{msisdn}/unfreeze", responses=REFUSALS)
def unfreeze_number(
    msisdn: str, request: LifecycleMoveRequest, session: SessionDep, clerk: BillingClerk
) -> LifecycleMovePublic:
    return _move(holds.unfreeze_number, session, msisdn, request, clerk.username)


@router.post("/numbers/{msisdn}/deactivate", responses=REFUSALS)
def deactivate_number(
    msisdn: str,
    request: LifecycleMoveRequest,
    session: SessionDep,
    clerk: BillingClerk,
    settings: SettingsDep,
) -> LifecycleMovePublic:
    """An active number is switched off and cools until `cooling_until`, then the worker
    returns it to the pool."""
    with _refusals():
        return holds.deactivate_number(
            session,
            msisdn,
            request.reason,
            clerk.username,
            cooling_days=settings.number_cooling_days,
        )


@router.post("/vouchers/{serial}/freeze", responses=REFUSALS)
def freeze_voucher(
    serial: str, request: LifecycleMoveRequest, session: SessionDep, clerk: BillingClerk
) -> LifecycleMovePublic:
    return _move(holds.freeze_voucher, session, serial, request, clerk.username)


@router.post("/vouchers/{serial}/unfreeze", responses=REFUSALS)
def unfreeze_voucher(
    serial: str, request: LifecycleMoveRequest, session: SessionDep, clerk: BillingClerk
) -> LifecycleMovePublic:
    return _move(holds.unfreeze_voucher, session, serial, request, clerk.username)


@router.post("/vouchers/{serial}/void", responses=REFUSALS)
def void_voucher(
    serial: str, request: LifecycleMoveRequest, session: SessionDep, clerk: BillingClerk
) -> LifecycleMovePublic:
    """A frozen card voided for good."""
    return _move(holds.void_voucher, session, serial, request, clerk.username)


@router.post("/sims/{iccid}/damaged", responses=REFUSALS)
def mark_sim_damaged(
    iccid: str, request: LifecycleMoveRequest, session: SessionDep, clerk: BillingClerk
) -> LifecycleMovePublic:
    """The card is written off as damaged; a number paired with it is unpaired."""
    return _move(holds.mark_sim_damaged, session, iccid, request, clerk.username)


@router.post("/sims/{iccid}/lost", responses=REFUSALS)
def mark_sim_lost(
    iccid: str, request: LifecycleMoveRequest, session: SessionDep, clerk: BillingClerk
) -> LifecycleMovePublic:
    """The card is written off as lost; a number paired with it is unpaired."""
    return _move(holds.mark_sim_lost, session, iccid, request, clerk.username)
