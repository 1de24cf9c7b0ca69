"""The billing centre's item pages: number search, a number's page (grade and prices, paired
SIM card, owner, status and its lifecycle as a timeline from the audit log), top-up cards by
batch or serial, a SIM card's page; and the holds and lifecycle moves on them (freeze,
unfreeze, deactivate, void, damaged, lost), each confirmed first and audited with its reason
(services/billing/holds.py).

No PIN of a top-up card and no personal data (ID numbers, buyers' names) is read for these
pages, let alone shown."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from backoffice.api.deps import SessionDep, SettingsDep
from backoffice.api.pages.frame import (
    BILLING_PAGES,
    CsrfChecked,
    error_text,
    gettext_of,
    page_user,
    render,
)
from backoffice.core.i18n import N_
from backoffice.models import StockDocument, User
from backoffice.services import audit
from backoffice.services.billing import grading, holds, numbers, sims, vouchers
from backoffice.services.channel import dealers
from backoffice.services.errors import Conflict, InvalidInput, NotFound, ServiceError
from shared.checks import problem
from shared.codes import CodeError, parse_iccid, parse_msisdn, parse_voucher_serial
from shared.lifecycle import (
    NUMBER_LIFECYCLE,
    SIM_LIFECYCLE,
    VOUCHER_LIFECYCLE,
    NumberAction,
    NumberStatus,
    SimAction,
    VoucherAction,
    VoucherStatus,
)
from shared.number_search import SearchPatternError, plan_search

router = APIRouter(include_in_schema=False)
Clerk = Annotated[User, page_user(BILLING_PAGES)]
PAGE = 50
TIMELINE_PAGE = 50
# Filter fields longer than this are refused next to the field (codes are 64 at most).
FIELD_MAX = 64

# The audit log's actions as a timeline names them (others show as recorded).
ACTION_NAMES = {
    "generate": N_("Segment generated"),
    "import": N_("Imported from a file"),
    "generated": N_("Cards generated"),
    "file": N_("Imported from a file"),
    "release": N_("Released to the pool"),
    "pair": N_("Paired from a file"),
    "pair_in_order": N_("Paired in order"),
    "unpair": N_("SIM card unpaired"),
    "allocate": N_("Allocated to an outlet"),
    "receive": N_("Received by the outlet"),
    "return_to_centre": N_("Returned to the centre"),
    "transfer": N_("Transferred to another outlet"),
    "reserve": N_("Reserved"),
    "release_reservation": N_("Reservation ended"),
    "sell": N_("Sold"),
    "return_sale": N_("Returned by the customer"),
    "activate": N_("Activated"),
    "deactivate": N_("Deactivated"),
    "end_cooling": N_("Back to the pool after cooling"),
    "freeze": N_("Frozen"),
    "unfreeze": N_("Unfrozen"),
    "void": N_("Voided"),
    "expire": N_("Expired"),
    "redeem": N_("Redeemed"),
    "mark_damaged": N_("Marked damaged"),
    "mark_lost": N_("Marked lost"),
}
DOCUMENT_KINDS = {
    "RL": N_("Release"),
    "DN": N_("Delivery note"),
    "RC": N_("Receipt"),
    "RT": N_("Return to centre"),
    "TR": N_("Transfer"),
    "SC": N_("Stock count"),
    "SO": N_("Stock-out"),
}


# --- Moves: what each button does, says before, and says after --------------------------------


@dataclass(frozen=True)
class MoveSpec:
    """One lifecycle move as a page offers it: shown where the item's lifecycle allows it
    from its status; confirmed first with what will happen; done by the holds service."""

    name: str  # in the URL: /billing/<kind>s/<key>/<name>
    sources: frozenset[str]  # the statuses it may start from
    button: str
    title: str  # "%(key)s" in it
    message: str  # what will happen; "%(key)s", "%(status)s", "%(back)s", "%(days)s"
    done: str  # the notice after it; "%(key)s"
    danger: bool = True


def _sources(lifecycle: Any, action: Any) -> frozenset[str]:
    return frozenset(s.value for s in lifecycle.sources(action))


NUMBER_MOVES = {
    m.name: m
    for m in (
        MoveSpec(
            "freeze",
            _sources(NUMBER_LIFECYCLE, NumberAction.freeze),
            N_("Freeze…"),
            N_("Freeze number %(key)s?"),
            N_(
                "Number %(key)s is %(status)s. Frozen, nobody can allocate, reserve or sell it "
                "until it is unfrozen; an unfreeze returns it to %(status)s. A reservation "
                "on it ends now."
            ),
            N_("Number %(key)s is frozen."),
        ),
        MoveSpec(
            "unfreeze",
            _sources(NUMBER_LIFECYCLE, NumberAction.unfreeze),
            N_("Unfreeze…"),
            N_("Unfreeze number %(key)s?"),
            N_("Number %(key)s is frozen. Unfrozen, it returns to %(back)s."),
            N_("Number %(key)s is unfrozen."),
            danger=False,
        ),
        MoveSpec(
            "deactivate",
            _sources(NUMBER_LIFECYCLE, NumberAction.deactivate),
            N_("Deactivate…"),
            N_("Deactivate number %(key)s?"),
            N_(
                "Number %(key)s is active. Deactivated, it cools for %(days)s days and then "
                "returns to the pool with its SIM card unpaired. This cannot be undone."
            ),
            N_("Number %(key)s is deactivated and cooling."),
        ),
    )
}
VOUCHER_MOVES = {
    m.name: m
    for m in (
        MoveSpec(
            "freeze",
            _sources(VOUCHER_LIFECYCLE, VoucherAction.freeze),
            N_("Freeze…"),
            N_("Freeze top-up card %(key)s?"),
            N_(
                "Top-up card %(key)s is %(status)s. Frozen, it cannot be sold, and a "
                "redemption of it is refused until it is unfrozen (back to %(status)s)."
            ),
            N_("Top-up card %(key)s is frozen."),
        ),
        MoveSpec(
            "unfreeze",
            _sources(VOUCHER_LIFECYCLE, VoucherAction.unfreeze),
            N_("Unfreeze…"),
            N_("Unfreeze top-up card %(key)s?"),
            N_("Top-up card %(key)s is frozen. Unfrozen, it returns to %(back)s."),
            N_("Top-up card %(key)s is unfrozen."),
            danger=False,
        ),
        MoveSpec(
            "void",
            _sources(VOUCHER_LIFECYCLE, VoucherAction.void),
            N_("Void…"),
            N_("Void top-up card %(key)s?"),
            N_(
                "Top-up card %(key)s is frozen. Voided, it can never be sold or redeemed. "
                "This cannot be undone."
            ),
            N_("Top-up card %(key)s is voided."),
        ),
    )
}
SIM_MOVES = {
    m.name: m
    for m in (
        MoveSpec(
            "damaged",
            _sources(SIM_LIFECYCLE, SimAction.mark_damaged),
            N_("Mark damaged…"),
            N_("Mark SIM card %(key)s damaged?"),
            N_(
                "SIM card %(key)s is %(status)s. Marked damaged, it is written off for good "
                "and a number paired with it is unpaired. This cannot be undone."
            ),
            N_("SIM card %(key)s is marked damaged."),
        ),
        MoveSpec(
            "lost",
            _sources(SIM_LIFECYCLE, SimAction.mark_lost),
            N_("Mark lost…"),
            N_("Mark SIM card %(key)s lost?"),
            N_(
                "SIM card %(key)s is %(status)s. Marked lost, it is written off for good "
                "and a number paired with it is unpaired. This cannot be undone."
            ),
            N_("SIM card %(key)s is marked lost."),
        ),
    )
}


def _move_refusal(request: Request, error: ServiceError) -> str:
    """A move's refusal in the reader's language: the holds service's typed errors carry what
    the message needs (its own text is English, for the API)."""
    _ = gettext_of(request)
    if isinstance(error, holds.ReasonRequired):
        if error.code == "reason_too_long":
            return _("The reason is too long: at most %(max)s characters.") % {
                "max": holds.REASON_MAX
            }
        if error.code == "invalid_reason":
            return _("The reason contains a character that cannot be stored.")
        return _("Give a reason: the audit log records it with the move.")
    if isinstance(error, holds.IllegalMove):
        return _("%(key)s is %(status)s now: this move is not possible from that status.") % {
            "key": error.key,
            "status": _(error.status),
        }
    if isinstance(error, holds.ItemChanged):
        return _("%(key)s changed while it was being moved: look at it again and retry.") % {
            "key": error.key
        }
    return error_text(request, error)


def _status_code(error: ServiceError) -> int:
    if isinstance(error, NotFound):
        return status.HTTP_404_NOT_FOUND
    if isinstance(error, Conflict):
        return status.HTTP_409_CONFLICT
    if isinstance(error, InvalidInput):
        return status.HTTP_422_UNPROCESSABLE_CONTENT
    return status.HTTP_400_BAD_REQUEST


def _notice(request: Request, moves: dict[str, MoveSpec], done: str | None, key: str) -> str:
    """The notice after a move (the redirect names the move; nothing else of the URL shows)."""
    move = moves.get(done or "")
    return "" if move is None else gettext_of(request)(move.done) % {"key": key}


def _offered(moves: dict[str, MoveSpec], current: str) -> list[MoveSpec]:
    return [m for m in moves.values() if current in m.sources]


# --- The timeline ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """An audit row as the timeline shows it."""

    at: datetime | None
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    reason: str | None
    scope: str  # "" for the item's own rows; else whose row it is (its batch, an outlet)
    document: str | None
    document_kind: str | None
    document_href: str | None


@dataclass(frozen=True)
class Timeline:
    events: list[Event]
    newest_first: bool
    next_after: str | None
    after: str | None


def _timeline(
    request: Request,
    session: Session,
    refs: list[audit.EntityRef],
    scopes: dict[tuple[str, str], str],
    newest_first: bool,
    after: str | None,
) -> Timeline:
    """A keyset page of the item's rows, its batch's and those of the documents that moved
    it, in time order; `scopes` names the rows that are not the item's own."""
    _ = gettext_of(request)
    entries, next_after = audit.timeline(
        session, refs, after=after, newest_first=newest_first, limit=TIMELINE_PAGE
    )
    documents = _documents(session, (e.document_id for e in entries))
    events = []
    for entry in entries:
        document = documents.get(entry.document_id or "")
        scope = scopes.get((entry.entity_type, entry.entity_id), "")
        if scope and entry.item_count > 1:
            scope = _("%(whose)s, %(count)s items") % {
                "whose": scope,
                "count": f"{entry.item_count:,}",
            }
        events.append(
            Event(
                at=entry.at,
                actor=entry.actor,
                action=_(ACTION_NAMES[entry.action])
                if entry.action in ACTION_NAMES
                else entry.action,
                from_status=entry.from_status,
                to_status=entry.to_status,
                reason=audit.shown_reason(entry.reason) or None,
                scope=scope,
                document=None if document is None else document.number,
                document_kind=None
                if document is None
                else _(DOCUMENT_KINDS.get(document.kind, document.kind)),
                document_href=_document_href(document),
            )
        )
    return Timeline(events, newest_first, next_after, after)


def _documents(session: Session, ids: Iterable[str | None]) -> dict[str, StockDocument]:
    wanted = sorted({i for i in ids if i})
    found = (session.get(StockDocument, i) for i in wanted)
    return {d.id: d for d in found if d is not None}


def _document_href(document: StockDocument | None) -> str | None:
    """A release's page is the billing centre's; the channel's documents have none here."""
    if document is not None and document.kind == "RL":
        return f"/billing/releases/{document.number}"
    return None


def _order(order: str | None) -> bool:
    """newest_first from the `order` query parameter (newest first unless "oldest")."""
    return order != "oldest"


def _after_id(after: str | None) -> str | None:
    """A timeline's keyset cursor: an audit row id, else nothing (a bad one is ignored)."""
    if after and len(after) == 36 and all(c in "0123456789abcdef-" for c in after):
        return after
    return None


def _document_refs(document: StockDocument | None) -> list[audit.EntityRef]:
    """The outlets' rows of the item's last stock document, and of the receipt of it."""
    if document is None:
        return []
    refs = []
    for outlet_id in (document.outlet_id, document.from_outlet_id):
        if outlet_id:
            refs.append(
                audit.EntityRef(
                    "outlet",
                    outlet_id,
                    document_ids=(document.id,),
                    reasons=(f"receipt of {document.number}",),
                )
            )
    return refs


def _outlet_scopes(
    request: Request, session: Session, document: StockDocument | None
) -> dict[tuple[str, str], str]:
    if document is None:
        return {}
    _ = gettext_of(request)
    found = numbers.owners(session, [document.outlet_id, document.from_outlet_id])
    return {
        ("outlet", outlet_id): _("Outlet %(code)s") % {"code": owner.outlet.code}
        for outlet_id, owner in found.items()
    }


# --- Number search -----------------------------------------------------------------------------


def _text(value: str | None) -> str:
    return (value or "").strip()


def _field_problem(request: Request, value: str) -> str | None:
    _ = gettext_of(request)
    if len(value) > FIELD_MAX:
        return _("At most %(max)s characters.") % {"max": FIELD_MAX}
    if problem(value):
        return _("Contains a character that cannot be stored.")
    return None


@dataclass
class SearchForm:
    pattern: str
    grade: str
    status: str
    batch: str
    dealer: str
    outlet: str

    def any(self) -> bool:
        return any(vars(self).values())


def _owner_filter(
    request: Request, session: Session, form: SearchForm, errors: dict[str, str]
) -> list[str] | None:
    """The outlet ids the owner filter allows (None: no owner filter)."""
    _ = gettext_of(request)
    dealer_id = None
    if form.dealer:
        try:
            dealer_id = dealers.find_dealer(session, form.dealer).id
        except NotFound:
            errors["dealer"] = _("No dealer %(code)s.") % {"code": form.dealer}
            return None
    if form.outlet:
        try:
            outlet = dealers.find_outlet(session, form.outlet, dealer_id)
        except NotFound:
            errors["outlet"] = (
                _("No outlet %(code)s of this dealer.") if dealer_id else _("No outlet %(code)s.")
            ) % {"code": form.outlet}
            return None
        return [outlet.id]
    if dealer_id:
        return [o.id for o in dealers.list_outlets(session, dealer_id)]
    return None


@router.get("/billing/numbers", response_class=HTMLResponse)
def numbers_page(
    request: Request,
    session: SessionDep,
    user: Clerk,
    pattern: str | None = None,
    grade: str | None = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    batch: str | None = None,
    dealer: str | None = None,
    outlet: str | None = None,
    after: str | None = None,
) -> Response:
    """Numbers by pattern, grade, status, batch and owner, a keyset page in number order; the
    filters are the URL's, so a search can be bookmarked."""
    _ = gettext_of(request)
    form = SearchForm(
        *(_text(v) for v in (pattern, grade, status_, batch, dealer, outlet))  # type: ignore[arg-type]
    )
    errors: dict[str, str] = {}
    for name, value in vars(form).items():
        if found := _field_problem(request, value):
            errors[name] = found
    grades = grading.list_grades(session)
    if "pattern" not in errors and form.pattern:
        try:
            plan_search(form.pattern)
        except SearchPatternError:
            errors["pattern"] = _(
                "Use digits, ? for one digit and * for any digits: *88, 139*, 139057?8888."
            )
    if form.grade and "grade" not in errors and form.grade not in {g.code for g in grades}:
        errors["grade"] = _("No grade %(code)s.") % {"code": form.grade}
    if form.status and form.status not in NumberStatus.__members__:
        errors["status"] = _("Not a number status.")
    outlet_ids = None
    if not errors:
        outlet_ids = _owner_filter(request, session, form, errors)
    rows: list[numbers.NumberRow] = []
    next_after = None
    if not errors:
        try:
            rows, next_after = numbers.find_numbers(
                session,
                pattern=form.pattern or None,
                grade=form.grade or None,
                status=form.status or None,
                batch=form.batch or None,
                outlet_ids=outlet_ids,
                after=after if after and after.isdigit() and len(after) <= 11 else None,
                limit=PAGE,
            )
        except NotFound:
            errors["batch"] = _("No number batch %(code)s.") % {"code": form.batch}
        except InvalidInput as error:  # the checks above make this unlikely
            errors["pattern"] = error_text(request, error)
    live = request.headers.get("HX-Request") == "true"
    return render(
        request,
        "billing/numbers.html",
        {
            "form": form,
            "errors": errors,
            "grades": [(g.code, f"{g.code} {g.name}") for g in grades],
            "statuses": [(s.value, _(s.value)) for s in NumberStatus],
            "dealers": [(d.code, f"{d.code} {d.name}") for d in dealers.list_dealers(session)],
            "rows": rows,
            "next_after": next_after,
            "owners": numbers.owners(session, (r.outlet_id for r in rows)),
            "batches": numbers.batch_codes(session, (r.batch_id for r in rows)),
        },
        # A live search shows its errors in the results it swaps in (htmx drops a 422).
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if errors and not live else 200,
    )


# --- A number's page -----------------------------------------------------------------------


def _number_context(
    request: Request,
    session: Session,
    msisdn: str,
    newest_first: bool = True,
    after: str | None = None,
) -> dict[str, Any]:
    _ = gettext_of(request)
    sheet = numbers.number_sheet(session, msisdn)
    batch = sheet.batch
    scopes = {
        ("number_batch", batch.id): _("Batch %(code)s") % {"code": batch.code},
        ("pairing", batch.id): _("Batch %(code)s") % {"code": batch.code},
        **_outlet_scopes(request, session, sheet.document),
    }
    refs = [
        audit.EntityRef("number", msisdn),
        audit.EntityRef("number_batch", batch.id),
        *_document_refs(sheet.document),
    ]
    if sheet.sim is not None:  # its batch's pairing in order (a file's is filed by its name)
        refs.append(audit.EntityRef("pairing", batch.id))
    return {
        "sheet": sheet,
        "prices": numbers.grade_prices(session, sheet.grade.code),
        "moves": _offered(NUMBER_MOVES, sheet.number.status),
        "timeline": _timeline(request, session, refs, scopes, newest_first, after),
    }


def _key(parse: Callable[[str], str], text: str, not_found: Callable[[str], NotFound]) -> str:
    """The item key a URL names; a key that is not one is an item not found (the frame's
    404 page, as for a well-formed key of no item)."""
    try:
        return parse(text)
    except CodeError:
        raise not_found(text) from None


def _spec(moves: dict[str, MoveSpec], move: str) -> MoveSpec:
    if move not in moves:
        raise NotFound(N_("No such page."))
    return moves[move]


@router.get("/billing/numbers/{msisdn}", response_class=HTMLResponse)
def number_page(
    request: Request,
    session: SessionDep,
    user: Clerk,
    msisdn: Annotated[str, Path()],
    order: str | None = None,
    after: str | None = None,
    done: str | None = None,
) -> Response:
    key = _key(parse_msisdn, msisdn, _not_a_number)
    context = _number_context(request, session, key, _order(order), _after_id(after))
    context["notice"] = _notice(request, NUMBER_MOVES, done, key)
    return render(request, "billing/number.html", context)


def _not_a_number(text: str) -> NotFound:
    return NotFound(
        N_("Number %(msisdn)s is not in the system."),
        code="number_not_found",
        params={"msisdn": text[:20]},
    )


# --- Moves, confirmed first ------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """What a move's routes need of the item's page."""

    key: str
    path: str  # the item's page
    status: str
    back: str | None  # frozen: the status an unfreeze returns to
    page: Callable[[], tuple[str, dict[str, Any]]]  # (template, context) of the item's page


def _move(
    request: Request,
    session: Session,
    user: User,
    item: Item,
    move: MoveSpec,
    do: holds.Move,
    reason: str,
    confirmed: str,
    days: int = 0,
) -> Response:
    """Without `confirmed=yes`: the confirmation page saying what will happen (or the item's
    page with the reason's error beside its field). With it: the move, then back to the
    item's page, which shows the new status and the timeline's new row."""
    _ = gettext_of(request)
    try:
        why = holds.clean_reason(reason)
    except holds.ReasonRequired as error:
        return _item_page(request, item, {f"reason_{move.name}": _move_refusal(request, error)})
    if item.status not in move.sources:  # it moved since the page was shown
        refusal = _("%(key)s is %(status)s now: this move is not possible from that status.")
        errors = {"move": refusal % {"key": item.key, "status": _(item.status)}}
        return _item_page(request, item, errors, status.HTTP_409_CONFLICT)
    if confirmed != "yes":
        values = {
            "key": item.key,
            "status": _(item.status),
            "back": _(item.back) if item.back else "",
            "days": days,
        }
        return render(
            request,
            "confirm.html",
            {
                "title": _(move.title) % values,
                "message": _(move.message) % values,
                "details": [_("Reason: %(reason)s") % {"reason": why}],
                "action": f"{item.path}/{move.name}",
                "fields": {"reason": why},
                "button": _(move.button).rstrip("…"),
                "back": item.path,
            },
        )
    try:
        do(session, item.key, why, user.username)
    except ServiceError as error:
        session.rollback()
        return _item_page(
            request, item, {"move": _move_refusal(request, error)}, _status_code(error)
        )
    return RedirectResponse(f"{item.path}?done={move.name}", status.HTTP_303_SEE_OTHER)


def _item_page(
    request: Request,
    item: Item,
    errors: dict[str, str],
    status_code: int = status.HTTP_422_UNPROCESSABLE_CONTENT,
) -> Response:
    template, context = item.page()
    return render(request, template, {**context, "errors": errors}, status_code=status_code)


Reason = Annotated[str, Form()]
Confirmed = Annotated[str, Form()]


@router.post(
    "/billing/numbers/{msisdn}/{move}",
    response_class=HTMLResponse,
    dependencies=[CsrfChecked],
)
def number_move(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Clerk,
    msisdn: Annotated[str, Path()],
    move: Annotated[str, Path()],
    reason: Reason = "",
    confirmed: Confirmed = "",
) -> Response:
    spec = _spec(NUMBER_MOVES, move)
    key = _key(parse_msisdn, msisdn, _not_a_number)
    sheet = numbers.number_sheet(session, key)
    days = settings.number_cooling_days
    do: dict[str, holds.Move] = {
        "freeze": holds.freeze_number,
        "unfreeze": holds.unfreeze_number,
        "deactivate": partial(holds.deactivate_number, cooling_days=days),
    }
    item = Item(
        key=key,
        path=f"/billing/numbers/{key}",
        status=sheet.number.status,
        back=sheet.number.held_from,
        page=lambda: ("billing/number.html", _number_context(request, session, key)),
    )
    return _move(request, session, user, item, spec, do[move], reason, confirmed, days)


# --- Top-up cards ------------------------------------------------------------------------------


@router.get("/billing/vouchers", response_class=HTMLResponse)
def vouchers_page(
    request: Request,
    session: SessionDep,
    user: Clerk,
    serial: str | None = None,
    batch: str | None = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    after: str | None = None,
) -> Response:
    """Top-up card batches (newest first), a batch's cards by status, or a card by serial."""
    _ = gettext_of(request)
    serial, code, card_status = _text(serial), _text(batch), _text(status_)
    errors: dict[str, str] = {}
    if serial:
        try:
            key = parse_voucher_serial(serial)
            vouchers.voucher_row(session, key)
            return RedirectResponse(f"/billing/vouchers/{key}", status.HTTP_303_SEE_OTHER)
        except CodeError:
            errors["serial"] = _("A serial has 17 digits.")
        except NotFound:
            errors["serial"] = _("No top-up card %(serial)s.") % {"serial": serial}
    context: dict[str, Any] = {
        "form": {"serial": serial, "batch": code, "status": card_status},
        "statuses": [(s.value, _(s.value)) for s in VoucherStatus],
        "batch": None,
    }
    bad_code = _field_problem(request, code) if code else None
    if bad_code:
        errors["batch"] = bad_code
    elif code:
        try:
            chosen = vouchers.find_voucher_batch(session, code)
        except NotFound:
            errors["batch"] = _("No top-up card batch %(code)s.") % {"code": code}
        else:
            if card_status and card_status not in VoucherStatus.__members__:
                errors["status"] = _("Not a top-up card status.")
                card_status = ""
            cards, next_after = vouchers.batch_vouchers(
                session,
                chosen,
                card_status or None,
                after if after and after.isdigit() and len(after) <= 17 else None,
                PAGE,
            )
            context.update(
                batch=chosen,
                counts=vouchers.voucher_status_counts(session, chosen.id),
                cards=cards,
                owners=numbers.owners(session, (c.outlet_id for c in cards)),
                next_after=next_after,
            )
    if context["batch"] is None:
        batches, next_after = vouchers.voucher_batches_page(
            session, _after_id(after) if not code else None, PAGE
        )
        context.update(batches=batches, next_after=next_after)
    context["errors"] = errors
    return render(
        request,
        "billing/vouchers.html",
        context,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if errors else 200,
    )


def _voucher_context(
    request: Request,
    session: Session,
    serial: str,
    newest_first: bool = True,
    after: str | None = None,
) -> dict[str, Any]:
    _ = gettext_of(request)
    card, batch = vouchers.voucher_row(session, serial)
    document = session.get(StockDocument, card.document_id) if card.document_id else None
    scopes = {
        ("voucher_batch", batch.id): _("Batch %(code)s") % {"code": batch.code},
        **_outlet_scopes(request, session, document),
    }
    refs = [
        audit.EntityRef("voucher", serial),
        audit.EntityRef("voucher_batch", batch.id),
        *_document_refs(document),
    ]
    return {
        "card": card,
        "batch": batch,
        "owner": numbers.owners(session, [card.outlet_id]).get(card.outlet_id or ""),
        "moves": _offered(VOUCHER_MOVES, card.status),
        "timeline": _timeline(request, session, refs, scopes, newest_first, after),
    }


def _not_a_card(text: str) -> NotFound:
    return NotFound(
        N_("Top-up card %(serial)s is not in the system."),
        code="voucher_not_found",
        params={"serial": text[:20]},
    )


@router.get("/billing/vouchers/{serial}", response_class=HTMLResponse)
def voucher_page(
    request: Request,
    session: SessionDep,
    user: Clerk,
    serial: Annotated[str, Path()],
    order: str | None = None,
    after: str | None = None,
    done: str | None = None,
) -> Response:
    key = _key(parse_voucher_serial, serial, _not_a_card)
    context = _voucher_context(request, session, key, _order(order), _after_id(after))
    context["notice"] = _notice(request, VOUCHER_MOVES, done, key)
    return render(request, "billing/vouchers_card.html", context)


_VOUCHER_DO: dict[str, holds.Move] = {
    "freeze": holds.freeze_voucher,
    "unfreeze": holds.unfreeze_voucher,
    "void": holds.void_voucher,
}


@router.post(
    "/billing/vouchers/{serial}/{move}",
    response_class=HTMLResponse,
    dependencies=[CsrfChecked],
)
def voucher_move(
    request: Request,
    session: SessionDep,
    user: Clerk,
    serial: Annotated[str, Path()],
    move: Annotated[str, Path()],
    reason: Reason = "",
    confirmed: Confirmed = "",
) -> Response:
    spec = _spec(VOUCHER_MOVES, move)
    key = _key(parse_voucher_serial, serial, _not_a_card)
    card, _batch = vouchers.voucher_row(session, key)
    item = Item(
        key=key,
        path=f"/billing/vouchers/{key}",
        status=card.status,
        back=card.held_from,
        page=lambda: ("billing/vouchers_card.html", _voucher_context(request, session, key)),
    )
    return _move(request, session, user, item, spec, _VOUCHER_DO[move], reason, confirmed)


# --- SIM cards ---------------------------------------------------------------------------------


def _not_a_sim(text: str) -> NotFound:
    return NotFound(
        N_("SIM card %(iccid)s is not in the system."),
        code="sim_not_found",
        params={"iccid": text[:24]},
    )


@router.get("/billing/sims", response_class=HTMLResponse)
def sims_page(
    request: Request, session: SessionDep, user: Clerk, iccid: str | None = None
) -> Response:
    """A SIM card by its ICCID (the card's page has the rest)."""
    _ = gettext_of(request)
    text = _text(iccid)
    errors: dict[str, str] = {}
    if text:
        try:
            key = parse_iccid(text)
            sims.sim_sheet(session, key)
            return RedirectResponse(f"/billing/sims/{key}", status.HTTP_303_SEE_OTHER)
        except CodeError:
            errors["iccid"] = _("An ICCID has 19 or 20 characters and starts with 89.")
        except NotFound:
            errors["iccid"] = _("No SIM card %(iccid)s.") % {"iccid": text[:24]}
    return render(
        request,
        "billing/sims.html",
        {"iccid": text[:24], "errors": errors},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if errors else 200,
    )


def _sim_context(
    request: Request,
    session: Session,
    iccid: str,
    newest_first: bool = True,
    after: str | None = None,
) -> dict[str, Any]:
    _ = gettext_of(request)
    sheet = sims.sim_sheet(session, iccid)
    scopes = {("sim_batch", sheet.batch.id): _("Batch %(code)s") % {"code": sheet.batch.code}}
    refs = [audit.EntityRef("sim", iccid), audit.EntityRef("sim_batch", sheet.batch.id)]
    if sheet.number is not None:  # paired in order with its number's batch
        batch_id = sheet.number.batch_id
        code = numbers.batch_codes(session, [batch_id]).get(batch_id, "")
        scopes[("pairing", batch_id)] = _("Batch %(code)s") % {"code": code}
        refs.append(audit.EntityRef("pairing", batch_id))
    return {
        "sheet": sheet,
        "moves": _offered(SIM_MOVES, sheet.sim.status),
        "timeline": _timeline(request, session, refs, scopes, newest_first, after),
    }


@router.get("/billing/sims/{iccid}", response_class=HTMLResponse)
def sim_page(
    request: Request,
    session: SessionDep,
    user: Clerk,
    iccid: Annotated[str, Path()],
    order: str | None = None,
    after: str | None = None,
    done: str | None = None,
) -> Response:
    key = _key(parse_iccid, iccid, _not_a_sim)
    context = _sim_context(request, session, key, _order(order), _after_id(after))
    context["notice"] = _notice(request, SIM_MOVES, done, key)
    return render(request, "billing/sims_card.html", context)


_SIM_DO: dict[str, holds.Move] = {
    "damaged": holds.mark_sim_damaged,
    "lost": holds.mark_sim_lost,
}


@router.post(
    "/billing/sims/{iccid}/{move}",
    response_class=HTMLResponse,
    dependencies=[CsrfChecked],
)
def sim_move(
    request: Request,
    session: SessionDep,
    user: Clerk,
    iccid: Annotated[str, Path()],
    move: Annotated[str, Path()],
    reason: Reason = "",
    confirmed: Confirmed = "",
) -> Response:
    spec = _spec(SIM_MOVES, move)
    key = _key(parse_iccid, iccid, _not_a_sim)
    sheet = sims.sim_sheet(session, key)
    item = Item(
        key=key,
        path=f"/billing/sims/{key}",
        status=sheet.sim.status,
        back=None,
        page=lambda: ("billing/sims_card.html", _sim_context(request, session, key)),
    )
    return _move(request, session, user, item, spec, _SIM_DO[move], reason, confirmed)
