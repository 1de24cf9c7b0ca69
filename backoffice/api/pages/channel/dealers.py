"""The sales centre's pages of dealers and outlets (销售中心): the dealers list, a new dealer
and its changes (kind, credit limit, settlement cadence, product range), suspension and
termination with a reason, a dealer's page (outlets, terminals, stock, open documents,
account and its ledger, recent sales, payments received), the outlets with their stock and
its age. A dealer manager opens their own dealer's pages, read-only, through /my."""

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from backoffice.api.deps import SessionDep
from backoffice.api.pages.frame import (
    CHANNEL_AND_DEALER_PAGES,
    CHANNEL_PAGES,
    DEALER_PAGES,
    CsrfChecked,
    error_text,
    gettext_of,
    page_user,
    refused,
    render,
)
from backoffice.contracts.channel import (
    ENTRY_LIMIT_FEN,
    RANGE_PRODUCTS,
    DealerCreate,
    DealerStatusChange,
    DealerUpdate,
    PaymentIn,
    ProductRange,
)
from backoffice.contracts.settlement import CommissionPlanPublic
from backoffice.core.i18n import N_
from backoffice.domain.calendar import business_day
from backoffice.domain.channel import DealerKind, DealerStatus
from backoffice.domain.settlement.accounts import Cadence
from backoffice.domain.settlement.commission import plan_on
from backoffice.domain.users import Role
from backoffice.models import Dealer, Outlet, User
from backoffice.models.types import utcnow
from backoffice.services.billing.grading import list_grades
from backoffice.services.channel import dealers, movements, overview, product_range
from backoffice.services.counter import sales_read
from backoffice.services.errors import NotFound, ServiceError
from backoffice.services.settlement import accounts, plans
from backoffice.services.statistics.queries import Scope, stock
from shared.money import MoneyError, format_fen, parse_yuan

router = APIRouter(include_in_schema=False)
ChannelUser = Annotated[User, page_user(CHANNEL_PAGES)]
ReaderUser = Annotated[User, page_user(CHANNEL_AND_DEALER_PAGES)]
DealerManager = Annotated[User, page_user(DEALER_PAGES)]
PAGE = 50
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CODE = re.compile(r"[A-Za-z0-9_.-]{2,32}")

KIND_NAMES = {
    DealerKind.own_store.value: N_("Own store"),
    DealerKind.partner.value: N_("Partner"),
    DealerKind.social.value: N_("Social channel"),
}
# Badge words of these pages the frame does not name.
STATUS_WORDS = (N_("suspended"), N_("terminated"))
PRODUCT_NAMES = {
    "numbers": N_("Numbers"),
    "sim_packs": N_("SIM starter packs"),
    "vouchers": N_("Top-up cards"),
}
CADENCE_NAMES = {
    Cadence.day.value: N_("Daily"),
    Cadence.week.value: N_("Weekly"),
    Cadence.month.value: N_("Monthly"),
}
ENTRY_KINDS = {
    "deposit": N_("Deposit"),
    "sale": N_("Sale"),
    "return": N_("Return"),
    "commission": N_("Commission"),
    "penalty": N_("Penalty"),
    "payment": N_("Payment"),
    "adjustment": N_("Adjustment"),
}
ITEM_KINDS = {"number": N_("Numbers"), "voucher": N_("Top-up cards")}
DOCUMENT_KINDS = {
    "DN": N_("Delivery note"),
    "TR": N_("Transfer"),
    "RT": N_("Return to centre"),
}
DONE = {
    "created": N_("The dealer was created."),
    "saved": N_("The dealer's changes were saved."),
    "suspended": N_(
        "The dealer was suspended: its terminals stop selling at their next pull, and no stock "
        "is allocated to it."
    ),
    "terminated": N_("The dealer was terminated."),
    "active": N_("The dealer is active again."),
    "paid": N_("The payment was recorded on the dealer's account."),
}
# The use cases' refusals, by code: the field they concern (None: above the form).
FIELDS = {
    "already_exists": "code",
    "plan_not_found": "plan",
    "plan_ended": "plan",
    "unknown_grade": "grades",
    "credit_limit_exceeded": "amount",
}


@dataclass
class Checked:
    """A form's values and the error of each field found wrong (a message to translate)."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, tuple[str, dict[str, object]]] = field(default_factory=dict)

    def fail(self, name: str, message: str, **params: object) -> None:
        self.errors.setdefault(name, (message, params))

    def text(self, name: str, value: str, limit: int, required: bool = False) -> str:
        value = value.strip()
        self.values[name] = value
        if CONTROL.search(value):
            self.fail(name, N_("Control characters are not allowed."))
        elif len(value) > limit:
            self.fail(name, N_("At most %(n)s characters."), n=limit)
        elif required and not value:
            self.fail(name, N_("Required."))
        return value

    def yuan(self, name: str, value: str, positive: bool = False) -> int | None:
        value = self.text(name, value, 20, required=True)
        if name in self.errors:
            return None
        try:
            fen = parse_yuan(value)
        except MoneyError:
            self.fail(name, N_("An amount in yuan, such as 5000 or 5000.50."))
            return None
        if fen < 0 or (positive and fen == 0):
            self.fail(name, N_("More than zero.") if positive else N_("Zero or more."))
        elif fen > ENTRY_LIMIT_FEN:
            self.fail(name, N_("At most %(amount)s."), amount=format_fen(ENTRY_LIMIT_FEN))
        else:
            return fen
        return None

    def choice(self, name: str, value: str, allowed: object) -> str:
        self.values[name] = value
        if value not in allowed:  # type: ignore[operator]
            self.fail(name, N_("Choose one."))
        return value


def _shown(request: Request, checked: Checked | None) -> dict[str, str]:
    _ = gettext_of(request)
    errors = {} if checked is None else checked.errors
    return {
        name: _(message) % params if params else _(message)
        for name, (message, params) in errors.items()
    }


def _refusal(request: Request, error: ServiceError, checked: Checked) -> str | None:
    """Puts a use case's refusal beside its field; returns it when it belongs to none."""
    name = FIELDS.get(error.code)
    if name is None:
        return error_text(request, error)
    if error.code == "already_exists":
        checked.fail(name, N_("A dealer with this code exists already."))
    else:
        checked.fail(name, error.message, **error.params)
    return None


def _plain(text: str, limit: int) -> str:
    return CONTROL.sub("", text)[:limit].strip()


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status.HTTP_303_SEE_OTHER)


def _done(request: Request) -> str | None:
    message = DONE.get(request.query_params.get("done") or "")
    return None if message is None else gettext_of(request)(message)


def _dealer_of(session: Session, user: User, code: str) -> Dealer:
    """The dealer of a page's address; a dealer manager's only if it is their own (the 403
    page otherwise, raised by the caller)."""
    if len(code) > 32 or CONTROL.search(code):
        raise NotFound("no such dealer", code="dealer_not_found")
    dealer = dealers.find_dealer(session, code)
    return dealer


def _foreign(user: User, dealer_id: str) -> bool:
    """Whether the user may not see this dealer (a dealer manager sees only their own)."""
    return Role(user.role) is Role.dealer_manager and user.dealer_id != dealer_id


def _read_only(user: User) -> bool:
    return Role(user.role) is Role.dealer_manager


# --- the dealers list -----------------------------------------------------------------------


@router.get("/channel/dealers", response_class=HTMLResponse)
def dealers_page(
    request: Request,
    session: SessionDep,
    user: ChannelUser,
    q: Annotated[str, Query()] = "",
    kind: Annotated[str, Query()] = "",
    state: Annotated[str, Query()] = "",
    after: Annotated[str, Query()] = "",
) -> Response:
    """Dealers by code, a keyset page at a time; search by code or name, filters by kind and
    status, all in the URL; how many dealers are in each status."""
    q = _plain(q, 64)
    rows, next_after = dealers.page_of_dealers(
        session,
        search=q,
        kind=kind if kind in KIND_NAMES else None,
        status=state if state in DealerStatus.__members__ else None,
        after=_plain(after, 32) or None,
        limit=PAGE,
    )
    return render(
        request,
        "channel/dealers.html",
        {
            "rows": rows,
            "next_after": next_after,
            "counts": dealers.dealer_counts(session),
            "kinds": KIND_NAMES,
            "statuses": [s.value for s in DealerStatus],
            "filters": {"q": q, "kind": kind, "state": state},
        },
    )


# --- a new dealer, and its changes ------------------------------------------------------------


def _grades(session: Session) -> list[tuple[str, str]]:
    return [(g.code, g.name) for g in list_grades(session)]


def _form_context(request: Request, session: Session, checked: Checked | None) -> dict:  # type: ignore[type-arg]
    _ = gettext_of(request)
    return {
        "errors": _shown(request, checked),
        "kinds": [(k, _(v)) for k, v in KIND_NAMES.items()],
        "cadences": [(k, _(v)) for k, v in CADENCE_NAMES.items()],
        "products": [(p, _(PRODUCT_NAMES[p])) for p in RANGE_PRODUCTS],
        "grades": _grades(session),
        "plan_choices": [
            (
                p.code,
                _("%(plan)s (%(kind)s, from %(day)s)")
                % {
                    "plan": p.code,
                    "kind": _(KIND_NAMES.get(p.dealer_kind or "", p.dealer_kind or "")),
                    "day": p.effective_from.isoformat(),
                },
            )
            for p in _kind_plans(session)
        ],
    }


def _kind_plans(session: Session) -> list[CommissionPlanPublic]:
    """The plans an office gives dealers of a kind, which a dealer may be given instead."""
    return [p for p in plans.list_plans(session) if p.dealer_id is None]


def _plan_choice(session: Session, checked: Checked, plan: str) -> str:
    plan = checked.text("plan", plan, 32)
    if plan and plan not in {p.code for p in _kind_plans(session)}:
        checked.fail("plan", N_("Choose one."))
    return plan


def _new_form(
    request: Request,
    session: Session,
    checked: Checked | None = None,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    _ = gettext_of(request)
    form = {"kind": "partner", "cadence": "month", "credit": "0", "all_grades": "yes"}
    form |= {p: "yes" for p in RANGE_PRODUCTS}
    if checked is not None:
        form = checked.values
    return render(
        request,
        "channel/dealers_new.html",
        {
            "form": form,
            "chosen_grades": form.get("grade_list", []),
            "error": error,
            "plan_blank": _("The plans of its kind"),
            **_form_context(request, session, checked),
        },
        status_code=status_code,
    )


def _range_of_form(
    checked: Checked, products: list[str], all_grades: str, grades: list[str]
) -> ProductRange | None:
    chosen = [p for p in RANGE_PRODUCTS if p in products]
    for p in RANGE_PRODUCTS:
        checked.values[p] = "yes" if p in chosen else ""
    checked.values["all_grades"] = "yes" if all_grades == "yes" else ""
    picked = sorted({g for g in grades if re.fullmatch(r"[A-Z0-9]{1,16}", g)})
    checked.values["grade_list"] = picked  # type: ignore[assignment]
    if "numbers" in chosen and all_grades != "yes" and not picked:
        checked.fail("grades", N_("Choose the grades it may sell, or every grade."))
    return ProductRange(
        products=chosen,  # type: ignore[arg-type]
        grades=None if all_grades == "yes" else picked,
    )


@router.get("/channel/dealers/new", response_class=HTMLResponse)
def new_dealer_page(request: Request, session: SessionDep, user: ChannelUser) -> Response:
    return _new_form(request, session)


@router.post("/channel/dealers/new", response_class=HTMLResponse, dependencies=[CsrfChecked])
def create_dealer(
    request: Request,
    session: SessionDep,
    user: ChannelUser,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    credit: Annotated[str, Form()] = "",
    cadence: Annotated[str, Form()] = "",
    plan: Annotated[str, Form()] = "",
    products: Annotated[list[str] | None, Form()] = None,
    all_grades: Annotated[str, Form()] = "",
    grades: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Creates a dealer with its credit limit, settlement cadence and product range."""
    checked = Checked()
    code = checked.text("code", code, 32, required=True)
    if code and "code" not in checked.errors and not CODE.fullmatch(code):
        checked.fail("code", N_("2 to 32 letters, digits, dots, dashes or underscores."))
    if code == "new":
        checked.fail("code", N_("This code is reserved: choose another."))
    name = checked.text("name", name, 128, required=True)
    checked.choice("kind", kind, KIND_NAMES)
    credit_fen = checked.yuan("credit", credit)
    checked.choice("cadence", cadence, CADENCE_NAMES)
    plan = _plan_choice(session, checked, plan)
    wanted = _range_of_form(checked, products or [], all_grades, grades or [])
    if checked.errors or credit_fen is None or wanted is None:
        return _new_form(request, session, checked, status_code=422)
    try:
        dealer = dealers.create_dealer(
            session,
            DealerCreate(
                code=code,
                name=name,
                kind=DealerKind(kind),
                credit_limit_fen=credit_fen,
                product_range=wanted,
            ),
            user.username,
        )
        if cadence != Cadence.month.value:
            accounts.set_cadence(session, dealer.code, Cadence(cadence), user.username)
        if plan:
            plans.choose_plan(session, dealer.code, plan, user.username)
    except ServiceError as error:
        session.rollback()
        general = _refusal(request, error, checked)
        return _new_form(request, session, checked, general, status_code=422)
    return _see(f"/channel/dealers/{dealer.code}?done=created")


def _edit_form(
    request: Request,
    session: Session,
    dealer: Dealer,
    checked: Checked | None = None,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    _ = gettext_of(request)
    current = product_range.range_of(session, dealer.id)
    form: dict[str, object] = {
        "name": dealer.name,
        "kind": dealer.kind,
        "credit": format_fen(dealer.credit_limit_fen, symbol=""),
        "cadence": accounts.cadence_of(session, dealer.id).value,
        "all_grades": "yes" if current.grades is None else "",
        "grade_list": current.grades or [],
    }
    form |= {p: "yes" if p in current.products else "" for p in RANGE_PRODUCTS}
    if checked is not None:
        form |= checked.values
    return render(
        request,
        "channel/dealers_edit.html",
        {
            "dealer": dealer,
            "form": form,
            "chosen_grades": form.get("grade_list", []),
            "error": error,
            "plans": _plans(session, dealer),
            "kind_names": KIND_NAMES,
            "plan_blank": _("No change"),
            **_form_context(request, session, checked),
        },
        status_code=status_code,
    )


@dataclass(frozen=True)
class PlanLine:
    code: str
    scope: str  # "own" or the kind
    effective_from: date
    effective_to: date | None
    in_force: bool


def _plans(session: Session, dealer: Dealer) -> list[PlanLine]:
    """The commission plans that apply to the dealer (its own, else those of its kind), the
    one in force today marked."""
    own = [p for p in plans.list_plans(session, dealer.id) if p.dealer_id == dealer.id]
    shown = own or [p for p in plans.list_plans(session) if p.dealer_kind == dealer.kind]
    today = business_day(utcnow())
    domain = plans.plans_by_dealer(session, [dealer]).get(dealer.id, [])
    current = plan_on(domain, today)
    return [
        PlanLine(
            p.code,
            "own" if p.dealer_id else (p.dealer_kind or ""),
            p.effective_from,
            p.effective_to,
            current is not None and current.code == p.code,
        )
        for p in shown
    ]


@router.get("/channel/dealers/{code}/edit", response_class=HTMLResponse)
def edit_dealer_page(
    request: Request, session: SessionDep, user: ChannelUser, code: Annotated[str, Path()]
) -> Response:
    return _edit_form(request, session, _dealer_of(session, user, code))


@router.post(
    "/channel/dealers/{code}/edit", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
def edit_dealer(
    request: Request,
    session: SessionDep,
    user: ChannelUser,
    code: Annotated[str, Path()],
    name: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    credit: Annotated[str, Form()] = "",
    cadence: Annotated[str, Form()] = "",
    plan: Annotated[str, Form()] = "",
    products: Annotated[list[str] | None, Form()] = None,
    all_grades: Annotated[str, Form()] = "",
    grades: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Saves the name, kind, credit limit, product range and settlement cadence."""
    dealer = _dealer_of(session, user, code)
    checked = Checked()
    name = checked.text("name", name, 128, required=True)
    checked.choice("kind", kind, KIND_NAMES)
    credit_fen = checked.yuan("credit", credit)
    checked.choice("cadence", cadence, CADENCE_NAMES)
    plan = _plan_choice(session, checked, plan)
    wanted = _range_of_form(checked, products or [], all_grades, grades or [])
    if checked.errors or credit_fen is None or wanted is None:
        return _edit_form(request, session, dealer, checked, status_code=422)
    try:
        dealers.update_dealer(
            session,
            dealer.code,
            DealerUpdate(
                name=name,
                kind=DealerKind(kind),
                credit_limit_fen=credit_fen,
                product_range=wanted,
            ),
            user.username,
        )
        if accounts.cadence_of(session, dealer.id).value != cadence:
            accounts.set_cadence(session, dealer.code, Cadence(cadence), user.username)
        if plan:
            plans.choose_plan(session, dealer.code, plan, user.username)
    except ServiceError as error:
        session.rollback()
        general = _refusal(request, error, checked)
        return _edit_form(request, session, dealer, checked, general, 422)
    return _see(f"/channel/dealers/{dealer.code}?done=saved")


# --- a dealer's page ------------------------------------------------------------------------


def _dealer_page(
    request: Request,
    session: Session,
    user: User,
    dealer: Dealer,
    checked: Checked | None = None,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    outlets = dealers.list_outlets(session, dealer_scope=dealer.id)
    outlet_ids = [o.id for o in outlets]
    terminals, _next = dealers.page_of_terminals(session, dealer_id=dealer.id, limit=200)
    counts = overview.stock_by_status(session, outlet_ids)
    entries, next_entries = overview.account_page(session, dealer.id, limit=10)
    documents = overview.open_documents(session, outlet_ids)
    codes = {o.id: o.code for o in outlets}
    return render(
        request,
        "channel/dealers_dealer.html",
        {
            "dealer": dealer,
            "read_only": _read_only(user),
            "kinds": KIND_NAMES,
            "kind_names": KIND_NAMES,
            "outlets": outlets,
            "totals": overview.totals_by_outlet(counts),
            "counts": counts,
            "outlet_codes": codes,
            "terminals": terminals,
            "documents": documents,
            "document_kinds": DOCUMENT_KINDS,
            "item_kinds": ITEM_KINDS,
            "owed": dealers.owed(session, dealer.id),
            "balance": accounts.balance(session, dealer.id),
            "entries": entries,
            "more_entries": next_entries is not None,
            "entry_kinds": ENTRY_KINDS,
            "sales": sales_read.list_sales(session, dealer_scope=dealer.id, limit=20),
            "range": product_range.range_of(session, dealer.id),
            "product_names": PRODUCT_NAMES,
            "cadence": CADENCE_NAMES[accounts.cadence_of(session, dealer.id).value],
            "plans": _plans(session, dealer),
            "moves": [s.value for s in DealerStatus if s.value != dealer.status]
            if dealer.status != DealerStatus.terminated.value
            else [],
            "form": checked.values if checked else {},
            "errors": _shown(request, checked),
            "error": error,
            "notice": _done(request),
        },
        status_code=status_code,
    )


@router.get("/channel/dealers/{code}", response_class=HTMLResponse)
def dealer_page(
    request: Request, session: SessionDep, user: ReaderUser, code: Annotated[str, Path()]
) -> Response:
    """A dealer's outlets, terminals, stock, open documents, account and recent sales; for
    the sales centre also its changes, status and payments received."""
    dealer = _dealer_of(session, user, code)
    if _foreign(user, dealer.id):
        return refused(request, user, status.HTTP_403_FORBIDDEN)
    return _dealer_page(request, session, user, dealer)


@router.get("/my", response_class=HTMLResponse)
def my_dealer(request: Request, session: SessionDep, user: DealerManager) -> Response:
    """A dealer manager's own dealer (administrators, who have none, are told where the
    dealers are)."""
    if user.dealer_id is None:
        _ = gettext_of(request)
        return render(
            request,
            "error.html",
            {
                "title": _("My dealer"),
                "message": _(
                    "This is the page of a dealer manager's own dealer, and you belong to no "
                    "dealer. Every dealer is under Sales centre › Dealers."
                ),
                "back": "/channel/dealers",
            },
        )
    dealer = dealers.find_dealer(session, user.dealer_id)
    return _see(f"/channel/dealers/{dealer.code}")


@router.get("/channel/dealers/{code}/ledger", response_class=HTMLResponse)
def ledger_page(
    request: Request,
    session: SessionDep,
    user: ReaderUser,
    code: Annotated[str, Path()],
    after: Annotated[str, Query()] = "",
) -> Response:
    """The dealer's settlement account, newest first, a keyset page at a time."""
    dealer = _dealer_of(session, user, code)
    if _foreign(user, dealer.id):
        return refused(request, user, status.HTTP_403_FORBIDDEN)
    key = None
    found = re.fullmatch(r"([0-9]{4}-[0-9]{2}-[0-9]{2})_([0-9a-f-]{36})", after)
    if found:
        try:
            key = (date.fromisoformat(found.group(1)), found.group(2))
        except ValueError:
            key = None
    entries, next_key = overview.account_page(session, dealer.id, key, limit=PAGE)
    return render(
        request,
        "channel/dealers_ledger.html",
        {
            "dealer": dealer,
            "entries": entries,
            "entry_kinds": ENTRY_KINDS,
            "balance": accounts.balance(session, dealer.id),
            "next_after": None if next_key is None else f"{next_key[0].isoformat()}_{next_key[1]}",
        },
    )


# --- status and payments --------------------------------------------------------------------


@router.post(
    "/channel/dealers/{code}/status", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
def change_status(
    request: Request,
    session: SessionDep,
    user: ChannelUser,
    code: Annotated[str, Path()],
    to: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    """Suspends, terminates or reactivates the dealer with a reason, after the confirmation."""
    dealer = _dealer_of(session, user, code)
    checked = Checked()
    checked.choice("to", to, [s.value for s in DealerStatus if s.value != dealer.status])
    reason = checked.text("reason", reason, 255, required=True)
    if checked.errors:
        return _dealer_page(request, session, user, dealer, checked, status_code=422)
    if confirmed != "yes":
        return _confirm_status(request, session, dealer, to, reason)
    try:
        dealers.change_dealer_status(
            session,
            dealer.code,
            DealerStatusChange(status=DealerStatus(to), reason=reason),
            user.username,
        )
    except ServiceError as error:
        session.rollback()
        return _dealer_page(
            request, session, user, dealer, checked, error_text(request, error), 409
        )
    return _see(f"/channel/dealers/{dealer.code}?done={to}")


def _confirm_status(
    request: Request, session: Session, dealer: Dealer, to: str, reason: str
) -> Response:
    _ = gettext_of(request)
    names = {"code": dealer.code, "name": dealer.name}
    terminals, _next = dealers.page_of_terminals(session, dealer_id=dealer.id, limit=10_000)
    active = sum(1 for t in terminals if t.terminal.status == "active")
    if to == DealerStatus.suspended.value:
        title = _("Suspend dealer %(code)s?") % names
        button = _("Suspend")
        details = [
            _("Its %(n)s terminals stop selling at their next pull.") % {"n": active},
            _("No stock is allocated to it and nothing is charged to it while it is suspended."),
            _("The sales centre can make it active again."),
        ]
    elif to == DealerStatus.terminated.value:
        title = _("Terminate dealer %(code)s?") % names
        button = _("Terminate")
        details = [
            _("Its %(n)s terminals stop selling at their next pull.") % {"n": active},
            _("A terminated dealer cannot be made active again."),
        ]
    else:
        title = _("Make dealer %(code)s active again?") % names
        button = _("Make active")
        details = [_("Its terminals sell again at their next pull.")]
    details.append(_("Reason: %(reason)s") % {"reason": reason})
    return render(
        request,
        "confirm.html",
        {
            "title": title,
            "message": _("%(code)s %(name)s") % names,
            "details": details,
            "action": f"/channel/dealers/{dealer.code}/status",
            "fields": {"to": to, "reason": reason},
            "button": button,
            "back": f"/channel/dealers/{dealer.code}",
        },
    )


@router.post(
    "/channel/dealers/{code}/payments", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
def record_payment(
    request: Request,
    session: SessionDep,
    user: ChannelUser,
    code: Annotated[str, Path()],
    amount: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    """A payment received from the dealer, after the confirmation: on its settlement account
    and, releasing credit, on its channel ledger."""
    dealer = _dealer_of(session, user, code)
    checked = Checked()
    fen = checked.yuan("amount", amount, positive=True)
    note = checked.text("note", note, 255)
    if checked.errors or fen is None:
        return _dealer_page(request, session, user, dealer, checked, status_code=422)
    if confirmed != "yes":
        _ = gettext_of(request)
        names = {"amount": format_fen(fen), "code": dealer.code, "name": dealer.name}
        return render(
            request,
            "confirm.html",
            {
                "title": _("Record a payment of %(amount)s?") % names,
                "message": _("Record a payment of %(amount)s received from %(code)s %(name)s?")
                % names,
                "details": [
                    _(
                        "It goes on the dealer's account and cannot be deleted: a mistake is "
                        "corrected with an adjustment."
                    ),
                    _("It lowers what the dealer owes, which frees credit for new stock."),
                ]
                + ([_("Note: %(note)s") % {"note": note}] if note else []),
                "action": f"/channel/dealers/{dealer.code}/payments",
                "fields": {"amount": checked.values["amount"], "note": note},
                "button": _("Record the payment"),
                "back": f"/channel/dealers/{dealer.code}",
            },
        )
    try:
        accounts.record_payment(
            session, dealer.code, PaymentIn(amount_fen=fen, note=note), user.username
        )
    except ServiceError as error:
        session.rollback()
        general = _refusal(request, error, checked)
        return _dealer_page(request, session, user, dealer, checked, general, 409)
    return _see(f"/channel/dealers/{dealer.code}?done=paid")


# --- outlets --------------------------------------------------------------------------------


@router.get("/channel/outlets", response_class=HTMLResponse)
def outlets_page(
    request: Request,
    session: SessionDep,
    user: ChannelUser,
    dealer: Annotated[str, Query()] = "",
    after: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    """Outlets (of one dealer, if chosen) a page at a time, with their stock by status and
    its age: counted for the page's outlets only."""
    chosen = dealers.dealer_by_code(session, dealer) if dealer else None
    outlets, next_after = dealers.page_of_outlets(
        session, dealer_scope=chosen.id if chosen else None, after=after
    )
    if dealer and chosen is None:
        outlets, next_after = [], None
    ids = [o.id for o in outlets]
    counts = overview.stock_by_status(session, ids)
    ageing = stock(session, Scope(), outlet_ids=ids)
    by_id = dealers.dealers_by_id(session, {o.dealer_id for o in outlets})
    return render(
        request,
        "channel/outlets.html",
        {
            "rows": [(o, by_id[o.dealer_id]) for o in outlets],
            "next_after": next_after,
            "totals": overview.totals_by_outlet(counts),
            "ageing": {(r.outlet_code, r.item_kind): r for r in ageing},
            "item_kinds": ITEM_KINDS,
            "dealers": dealers.dealer_choices(session),
            "filters": {"dealer": dealer},
        },
    )


@router.get("/channel/outlets/{code}", response_class=HTMLResponse)
def outlet_page(
    request: Request, session: SessionDep, user: ReaderUser, code: Annotated[str, Path()]
) -> Response:
    """An outlet's stock by product and status, its age, and the items themselves."""
    if len(code) > 32 or CONTROL.search(code):
        raise NotFound("no such outlet", code="outlet_not_found")
    outlet: Outlet = dealers.find_outlet(session, code)
    if _foreign(user, outlet.dealer_id):
        return refused(request, user, status.HTTP_403_FORBIDDEN)
    dealer = dealers.find_dealer(session, outlet.dealer_id)
    terminals, _next = dealers.page_of_terminals(session, outlet_id=outlet.id, limit=200)
    return render(
        request,
        "channel/outlets_outlet.html",
        {
            "outlet": outlet,
            "dealer": dealer,
            "counts": overview.stock_by_status(session, [outlet.id]),
            "ageing": stock(session, Scope(outlet_id=outlet.id)),
            "item_kinds": ITEM_KINDS,
            "terminals": terminals,
            "items": movements.outlet_stock(session, outlet.id, limit=100),
            "documents": overview.open_documents(session, [outlet.id]),
            "document_kinds": DOCUMENT_KINDS,
            "outlet_codes": {outlet.id: outlet.code},
        },
    )
