"""Terminal sync, authenticated by the device credential: push events, pull changes,
reserve numbers, have price overrides approved."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from backoffice.api.deps import (
    KeysDep,
    SessionDep,
    SettingsDep,
    TerminalCredential,
    TerminalDep,
)
from backoffice.api.inputs import json_body, parse_body, raw_body
from backoffice.services.channel import dealers, reservations
from backoffice.services.counter import approvals, changes, sync
from shared.sync import (
    ApprovalGranted,
    ApprovalRequest,
    PullResponse,
    PushRequest,
    PushResponse,
    Reservation,
    ReserveRequest,
)

router = APIRouter(prefix="/sync", tags=["sync"])


@router.post("/push", response_model=PushResponse, openapi_extra=json_body(PushRequest))
def push(
    body: Annotated[bytes, Depends(raw_body)],
    session: SessionDep,
    credential: TerminalCredential,
    settings: SettingsDep,
    keys: KeysDep,
) -> Response:
    """Events in the terminal's order, each answered on its own (PushRequest). The terminal
    is authenticated first, in the push's own transaction and thread; then the body is read,
    straight from JSON, once."""
    terminal = dealers.authenticate_terminal(session, credential)
    answer = sync.push(session, terminal, parse_body(PushRequest, body), settings, keys)
    return Response(answer.model_dump_json(), media_type="application/json")


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


@router.post("/approvals")
def approve_override(
    request: ApprovalRequest, session: SessionDep, terminal: TerminalDep, settings: SettingsDep
) -> ApprovalGranted:
    """A dealer manager approves a price override online: the back office checks the PIN
    (locking the manager's approvals out after repeated wrong ones) and the dealer's caps,
    and signs an approval of this one line for the sale event to carry."""
    return approvals.approve(session, terminal, request, settings)
