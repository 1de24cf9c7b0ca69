"""Terminal sync, authenticated by the device credential: push events, pull changes,
reserve numbers."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from backoffice.api.deps import PinCipherDep, SessionDep, SettingsDep, TerminalDep
from backoffice.services.channel import dealers, reservations
from backoffice.services.counter import changes, sync
from shared.sync import PullResponse, PushRequest, PushResponse, Reservation, ReserveRequest

router = APIRouter(prefix="/sync", tags=["sync"])


@router.post("/push")
def push(
    request: PushRequest,
    session: SessionDep,
    terminal: TerminalDep,
    settings: SettingsDep,
    cipher: PinCipherDep,
) -> PushResponse:
    return sync.push(session, terminal, request, settings, cipher)


@router.get("/pull")
def pull(
    session: SessionDep,
    terminal: TerminalDep,
    settings: SettingsDep,
    since: Annotated[str | None, Query(description="cursor of the previous pull")] = None,
) -> PullResponse:
    return changes.pull(session, terminal, since, settings)


@router.post("/reservations", status_code=status.HTTP_201_CREATED)
def reserve(
    request: ReserveRequest, session: SessionDep, terminal: TerminalDep, settings: SettingsDep
) -> Reservation:
    dealers.require_active_dealer(terminal)
    return reservations.reserve(
        session,
        terminal.outlet,
        request.msisdn,
        f"{terminal.actor}/{request.clerk}",
        settings.reservation_minutes,
        terminal_id=terminal.terminal.id,
    )


@router.delete("/reservations/{reservation_id}")
def cancel_reservation(
    reservation_id: str, session: SessionDep, terminal: TerminalDep
) -> Reservation:
    return reservations.cancel(
        session, reservation_id, terminal.actor, outlet_id=terminal.outlet.id
    )
