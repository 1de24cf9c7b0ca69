"""The reconciliation queue (销售中心): the events the back office rejected at push, and the
sales it accepted with a price override approved offline, each with what the terminal did and
why the office refused it; the sales centre decides on each (a manual sale booked as if
accepted, a refund at the counter, a write-off, or a note), after a confirmation page. The
terminal learns the decision at its next pull. A dealer manager reads their own dealer's
items only, and decides nothing."""

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from backoffice.api.deps import KeysDep, SessionDep, SettingsDep
from backoffice.api.pages.frame import (
    CHANNEL_AND_DEALER_PAGES,
    CHANNEL_PAGES,
    CsrfChecked,
    error_text,
    gettext_of,
    page_user,
    refused,
    render,
)
from backoffice.contracts.counter import (
    NOTE_REQUIRED,
    ReconciliationItem,
    ReconciliationResolve,
)
from backoffice.core.i18n import N_, Translate
from backoffice.domain.users import Role
from backoffice.models import Dealer, Outlet, Terminal, User
from backoffice.services.counter import reconciliation
from backoffice.services.counter.outcomes import OFFLINE_OVERRIDE
from backoffice.services.errors import Conflict, ServiceError
from shared.money import format_fen
from shared.sync import EventType, RejectReason, ResolutionKind

router = APIRouter(include_in_schema=False)
Reader = Annotated[User, page_user(CHANNEL_AND_DEALER_PAGES)]
Decider = Annotated[User, page_user(CHANNEL_PAGES)]
Text = Annotated[str, Form()]
PAGE = 50
NOTE_MAX = 255
_CODE = re.compile(r"[0-9A-Za-z_-]{1,32}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Why an event waits in the queue, in the reader's language.
REASONS: dict[str, str] = {
    RejectReason.dealer_suspended: N_("The dealer was suspended"),
    RejectReason.item_already_sold: N_("The item was already sold"),
    RejectReason.item_not_in_outlet_stock: N_("The item was not in the outlet's stock"),
    RejectReason.item_reserved_elsewhere: N_("The number was reserved by another terminal"),
    RejectReason.unknown_item: N_("The item is not in the system"),
    RejectReason.price_mismatch: N_("The price differs from the price list"),
    RejectReason.unknown_price_list: N_("The price list was not in force"),
    RejectReason.unknown_product: N_("The product has no price"),
    RejectReason.override_not_approved: N_("The price override was not approved"),
    RejectReason.payment_mismatch: N_("The payments do not add up to the total"),
    RejectReason.real_name_required: N_("The buyer's ID is missing"),
    RejectReason.receipt_number_reused: N_("The receipt number was used already"),
    RejectReason.sale_not_found: N_("The returned sale was not found"),
    RejectReason.item_not_in_sale: N_("The returned item was not in the sale"),
    RejectReason.already_returned: N_("The item was returned already"),
    RejectReason.return_window_passed: N_("The return window had passed"),
    RejectReason.item_already_active: N_("The number is active already"),
    RejectReason.voucher_already_redeemed: N_("The card was redeemed already"),
    RejectReason.document_not_found: N_("The stock document was not found"),
    RejectReason.document_not_for_outlet: N_("The stock document is another outlet's"),
    RejectReason.unknown_shift: N_("The shift was never opened"),
    RejectReason.shift_already_open: N_("The shift was open already"),
    RejectReason.shift_closed: N_("The shift was closed already"),
    RejectReason.already_received: N_("The delivery was received already"),
    RejectReason.not_a_delivery: N_("The document is not a delivery"),
    RejectReason.invalid_item: N_("An item code is not valid"),
    RejectReason.unknown_clerk: N_("The clerk is not the dealer's active staff"),
    RejectReason.override_over_cap: N_("The price override is beyond the dealer's caps"),
    RejectReason.receipt_not_this_terminal: N_("The receipt is numbered for another terminal"),
    RejectReason.invalid_event: N_("The office refused the event"),
    RejectReason.malformed_event: N_("The event was malformed"),
    OFFLINE_OVERRIDE: N_("Price override approved offline: to review"),
}
KINDS: dict[ResolutionKind, str] = {
    ResolutionKind.manual_sale: N_("Book as a manual sale"),
    ResolutionKind.refund: N_("Refund the customer"),
    ResolutionKind.write_off: N_("Write off as a loss"),
    ResolutionKind.note: N_("Resolved with a note"),
}
# What each decision does, as the form and the confirmation page say it.
EFFECTS: dict[ResolutionKind, str] = {
    ResolutionKind.manual_sale: N_(
        "The sale is booked as if the office had accepted it: its items are sold, the "
        "dealer owes their dealer price, statistics and settlement count it."
    ),
    ResolutionKind.refund: N_(
        "Nothing is booked. The terminal is told at its next pull to refund the customer."
    ),
    ResolutionKind.write_off: N_(
        "Nothing is booked. The loss is recorded with your note; the counter does nothing."
    ),
    ResolutionKind.note: N_("Nothing is booked. The item is closed with your note."),
}
EVENT_TYPES: dict[str, str] = {
    EventType.sale: N_("Sale"),
    EventType.sale_return: N_("Return"),
    EventType.stock_receipt: N_("Stock receipt"),
    EventType.stock_count: N_("Stock count"),
    EventType.stock_out: N_("Stock out"),
    EventType.shift_open: N_("Shift opened"),
    EventType.shift_close: N_("Shift closed"),
    EventType.cash_in: N_("Cash in"),
    EventType.cash_out: N_("Cash out"),
}
METHODS = {"cash": N_("cash"), "card": N_("bank card"), "wallet": N_("mobile wallet")}
DONE = {"resolved": N_("The decision was recorded; the terminal learns it at its next pull.")}
STATUSES = (("open", N_("Open")), ("resolved", N_("Resolved")))


def _code(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if _CODE.fullmatch(value) else None


def _scope(user: User) -> str | None:
    """A dealer manager sees their own dealer only."""
    return user.dealer_id if user.role == Role.dealer_manager.value else None


@dataclass
class Names:
    """Codes and names of the dealers, outlets and terminals of the items shown."""

    dealers: dict[str, Dealer] = field(default_factory=dict)
    outlets: dict[str, Outlet] = field(default_factory=dict)
    terminals: dict[str, Terminal] = field(default_factory=dict)


def _names(session: Session, items: list[ReconciliationItem]) -> Names:
    names = Names()
    for model, ids, into in (
        (Dealer, {i.dealer_id for i in items}, names.dealers),
        (Outlet, {i.outlet_id for i in items}, names.outlets),
        (Terminal, {i.terminal_id for i in items}, names.terminals),
    ):
        if ids:
            into.update(
                {row.id: row for row in session.exec(select(model).where(col(model.id).in_(ids)))}
            )  # type: ignore[attr-defined]
    return names


def what_happened(_: Translate, item: ReconciliationItem) -> str:
    """What the terminal did, from the event as received."""
    p: dict[str, Any] = item.payload
    if item.type == EventType.sale.value:
        payments = [x for x in p.get("payments") or [] if isinstance(x, dict)]
        total = sum(int(x.get("amount_fen") or 0) for x in payments)
        methods = ", ".join(
            _(METHODS.get(str(x.get("method")), str(x.get("method")))) for x in payments
        )
        if item.result == "accepted":
            return _(
                "Sold at the counter, receipt %(receipt)s printed, %(amount)s taken (%(methods)s); "
                "the office booked the sale."
            ) % {"receipt": p.get("receipt_no"), "amount": format_fen(total), "methods": methods}
        return _(
            "Sold at the counter, receipt %(receipt)s printed, %(amount)s taken (%(methods)s); "
            "the office has not booked the sale."
        ) % {"receipt": p.get("receipt_no"), "amount": format_fen(total), "methods": methods}
    if item.type == EventType.sale_return.value:
        return _("Refunded %(amount)s at the counter (%(method)s) for receipt %(receipt)s.") % {
            "amount": format_fen(int(p.get("refund_fen") or 0)),
            "method": _(METHODS.get(str(p.get("refund_method") or "cash"), "cash")),
            "receipt": p.get("original_receipt_no"),
        }
    kind = EVENT_TYPES.get(item.type)
    return _("Recorded at the counter: %(event)s.") % {"event": _(kind) if kind else item.type}


def _reason(_: Translate, code: str | None) -> str:
    return _(REASONS[code]) if code in REASONS else (code or "")


def _queue_page(request: Request, session: Session, user: User, **query: str | None) -> Response:
    _ = gettext_of(request)
    scope = _scope(user)
    state = "resolved" if query.get("status") == "resolved" else "open"
    filters = {k: _code(query.get(k)) or "" for k in ("dealer", "outlet", "terminal", "reason")}
    none_match = False

    def lookup(model: Any, column: Any, value: str) -> str | None:
        nonlocal none_match
        if not value:
            return None
        found = session.exec(select(model.id).where(column == value)).first()
        if found is None:
            none_match = True
        return found

    dealer_id = lookup(Dealer, Dealer.code, filters["dealer"]) if scope is None else None
    outlet_id = lookup(Outlet, Outlet.code, filters["outlet"])
    terminal_id = (
        lookup(Terminal, Terminal.terminal_no, filters["terminal"])
        if filters["terminal"].isdigit()
        else None
    )
    if filters["terminal"] and not filters["terminal"].isdigit():
        none_match = True
    items: list[ReconciliationItem] = []
    next_after = None
    if not none_match:
        items, next_after = reconciliation.queue_page(
            session,
            reconciliation.QueueFilters(
                status=state,
                dealer_id=dealer_id,
                outlet_id=outlet_id,
                terminal_id=terminal_id,
                reason=filters["reason"] or None,
            ),
            scope,
            query.get("after"),
            PAGE,
        )
    reasons = reconciliation.queue_reasons(session, scope)
    done = query.get("done")
    return render(
        request,
        "channel/reconciliation.html",
        {
            "state": state,
            "statuses": STATUSES,
            "filters": filters,
            "reasons": [(r, _reason(_, r)) for r in reasons],
            "items": [(i, what_happened(_, i), _reason(_, i.reason)) for i in items],
            "names": _names(session, items),
            "event_types": EVENT_TYPES,
            "kinds": KINDS,
            "next_after": next_after,
            "dealer_scope": scope,
            "done": _(DONE[done]) if done in DONE else None,
        },
    )


@router.get("/channel/reconciliation", response_class=HTMLResponse)
def queue(
    request: Request,
    session: SessionDep,
    user: Reader,
    status: str = "open",
    dealer: str = "",
    outlet: str = "",
    terminal: str = "",
    reason: str = "",
    after: str | None = None,
    done: str | None = None,
) -> Response:
    return _queue_page(
        request,
        session,
        user,
        status=status,
        dealer=dealer,
        outlet=outlet,
        terminal=terminal,
        reason=reason,
        after=after,
        done=done,
    )


# --- one item, and the decision on it ----------------------------------------------------------


@dataclass
class DecisionForm:
    kind: str = ""
    note: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def _item_or_refusal(
    request: Request, session: Session, user: User, terminal_id: str, event_id: str
) -> ReconciliationItem | Response:
    """The item, or the 403 page for another dealer's (NotFound goes to the frame's page)."""
    item = reconciliation.queued_event(session, terminal_id, event_id)
    scope = _scope(user)
    if scope is not None and item.dealer_id != scope:
        return refused(request, user, status.HTTP_403_FORBIDDEN)
    return item


def _item_page(
    request: Request,
    session: Session,
    user: User,
    item: ReconciliationItem,
    form: DecisionForm | None = None,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    _ = gettext_of(request)
    may_decide = _scope(user) is None and item.resolution == "open"
    kinds = reconciliation.allowed_kinds(item)
    return render(
        request,
        "channel/reconciliation_item.html",
        {
            "item": item,
            "names": _names(session, [item]),
            "what": what_happened(_, item),
            "reason": _reason(_, item.reason),
            "event_type": _(EVENT_TYPES[item.type]) if item.type in EVENT_TYPES else item.type,
            "kind_name": _(KINDS[item.resolution_kind]) if item.resolution_kind else None,
            "may_decide": may_decide,
            "kinds": [(k.value, _(KINDS[k])) for k in kinds],
            "effects": [(_(KINDS[k]), _(EFFECTS[k])) for k in kinds],
            "form": form or DecisionForm(),
            "error": error,
            "methods": METHODS,
        },
        status_code=status_code,
    )


def _path(item: ReconciliationItem) -> str:
    return f"/channel/reconciliation/{item.terminal_id}/{item.event_id}"


@router.get("/channel/reconciliation/{terminal_id}/{event_id}", response_class=HTMLResponse)
def item_page(
    request: Request, session: SessionDep, user: Reader, terminal_id: str, event_id: str
) -> Response:
    found = _item_or_refusal(request, session, user, terminal_id, event_id)
    if isinstance(found, Response):
        return found
    return _item_page(request, session, user, found)


def _checked(_: Translate, item: ReconciliationItem, kind: str, note: str) -> DecisionForm:
    form = DecisionForm(kind=kind, note=note.strip())
    allowed = {k.value for k in reconciliation.allowed_kinds(item)}
    if kind not in allowed:
        form.errors["kind"] = _("Choose what to do.")
    elif ResolutionKind(kind) in NOTE_REQUIRED and not form.note:
        form.errors["note"] = _("Required: say what happened.")
    if _CONTROL.search(form.note):
        form.errors["note"] = _("Control characters are not allowed.")
    elif len(form.note) > NOTE_MAX:
        form.errors["note"] = _("At most %(n)s characters.") % {"n": NOTE_MAX}
    return form


@router.post(
    "/channel/reconciliation/{terminal_id}/{event_id}",
    dependencies=[CsrfChecked],
    response_class=HTMLResponse,
)
def decide(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
    user: Decider,
    terminal_id: str,
    event_id: str,
    kind: Text = "",
    note: Text = "",
    confirmed: Text = "",
) -> Response:
    """Checks the decision, asks for confirmation, then records it with its effect."""
    _ = gettext_of(request)
    item = reconciliation.queued_event(session, terminal_id, event_id)
    if item.resolution != "open":
        return _item_page(
            request,
            session,
            user,
            item,
            error=_("This item is already resolved."),
            status_code=status.HTTP_409_CONFLICT,
        )
    form = _checked(_, item, kind, note)
    if form.errors:
        return _item_page(
            request, session, user, item, form, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    decision = ResolutionKind(form.kind)
    if confirmed != "yes":
        details = [
            what_happened(_, item),
            _("Reason: %(reason)s") % {"reason": _reason(_, item.reason)},
        ]
        if form.note:
            details.append(_("Note: %(note)s") % {"note": form.note})
        return render(
            request,
            "confirm.html",
            {
                "title": _(KINDS[decision]),
                "message": _(EFFECTS[decision]) + " " + _("This cannot be undone."),
                "details": details,
                "action": _path(item),
                "fields": {"kind": form.kind, "note": form.note},
                "button": _("Confirm: %(decision)s") % {"decision": _(KINDS[decision])},
                "back": _path(item),
            },
        )
    try:
        reconciliation.resolve(
            session,
            item.event_id,
            ReconciliationResolve(kind=decision, note=form.note, terminal_id=item.terminal_id),
            user.username,
            settings=settings,
            keys=keys,
        )
    except Conflict as conflict:
        session.rollback()
        fresh = reconciliation.queued_event(session, terminal_id, event_id)
        return _item_page(
            request,
            session,
            user,
            fresh,
            form,
            error=_refusal(_, request, conflict),
            status_code=status.HTTP_409_CONFLICT,
        )
    return RedirectResponse("/channel/reconciliation?done=resolved", status.HTTP_303_SEE_OTHER)


def _refusal(_: Translate, request: Request, error: ServiceError) -> str:
    if error.code == "cannot_book":
        return _(
            "The sale cannot be booked (%(reason)s: %(detail)s). Nothing was changed: sort out "
            "the stock first, or decide on a refund or a write-off."
        ) % {
            "reason": _reason(_, str(error.params.get("reason"))),
            "detail": error.params.get("detail"),
        }
    if error.code == "resolved":
        return _("This item is already resolved.")
    return error_text(request, error)
