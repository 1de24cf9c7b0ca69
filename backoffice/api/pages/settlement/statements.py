"""Settlement statements: the list by period, dealer and status; a statement's page with its
figures explained and its ledger lines; confirm, dispute (with a comment) and mark paid, each
confirmed first; a payment from the dealer recorded from the statement; the statement as PDF,
XLSX and CSV (services/settlement/statements.py renders them, for the API too).

Dealer managers open the same pages for their own dealer only, and see only the statements
the sales centre has confirmed (and those paid): no drafts, no actions. Another dealer's
statement, or its file, is the 403 page."""

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from backoffice.api.deps import SessionDep, attachment
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
from backoffice.contracts.channel import ENTRY_LIMIT_FEN, PaymentIn
from backoffice.core.i18n import N_, Translate
from backoffice.domain.settlement.accounts import StatementAction, StatementStatus
from backoffice.domain.users import Role
from backoffice.models import Dealer, SettlementStatement, User
from backoffice.services.channel import dealers
from backoffice.services.errors import Conflict, NotFound, ServiceError
from backoffice.services.settlement import accounts, listing, runs
from backoffice.services.settlement import statements as documents
from shared.checks import problem
from shared.money import MoneyError, format_fen, parse_yuan

router = APIRouter(include_in_schema=False)
Reader = Annotated[User, page_user(CHANNEL_AND_DEALER_PAGES)]
SalesCentre = Annotated[User, page_user(CHANNEL_PAGES)]
Text = Annotated[str, Form()]
PAGE = 50
LINES_PAGE = 100
COMMENT_MAX = 1000
REFERENCE_MAX = 200
_NUMBER = re.compile(r"[0-9A-Za-z-]{1,32}")
_ENTRY_ID = re.compile(r"[0-9a-f-]{36}")

# The statuses, as the status badges name them.
STATUS_NAMES = (N_("draft"), N_("confirmed"), N_("paid"), N_("disputed"))
KIND_NAMES = {
    "deposit": N_("Deposit"),
    "sale": N_("Sale"),
    "return": N_("Return"),
    "commission": N_("Commission"),
    "penalty": N_("Penalty"),
    "payment": N_("Payment"),
    "adjustment": N_("Adjustment"),
}
FORMATS = {"pdf": "PDF", "xlsx": "XLSX", "csv": "CSV"}


@dataclass(frozen=True)
class Figure:
    """One of a statement's figures, with what it means."""

    field: str
    label: str
    meaning: str
    on_account: bool = True  # part of the closing balance


FIGURES = (
    Figure(
        "opening_fen",
        N_("Opening balance"),
        N_(
            "What the dealer owed at the start of the period (below zero: what the operator "
            "owed the dealer): the closing balance of the period before."
        ),
    ),
    Figure(
        "retail_collected_fen",
        N_("Collected from customers"),
        N_(
            "What the dealer's counters took from customers at retail prices for the period's "
            "sales and returns. The dealer keeps it; the account holds what the dealer owes "
            "for them, below."
        ),
        on_account=False,
    ),
    Figure(
        "sales_fen",
        N_("Owed to the operator for sales"),
        N_(
            "The dealer price of every number and top-up card sold in the period: what the "
            "dealer owes the operator for them."
        ),
    ),
    Figure(
        "returns_fen",
        N_("Returns"),
        N_("Sales that customers brought back, taken off what the dealer owes."),
    ),
    Figure(
        "commission_fen",
        N_("Commission"),
        N_(
            "What the dealer earned (one-off per number, staged, revenue share, volume slabs): "
            "it reduces what the dealer owes."
        ),
    ),
    Figure("penalties_fen", N_("Penalties"), N_("Charged to the dealer, each with its evidence.")),
    Figure(
        "payments_fen",
        N_("Payments"),
        N_("What the dealer paid the operator in the period."),
    ),
    Figure("deposits_fen", N_("Deposits"), N_("Deposits the dealer paid in.")),
    Figure(
        "adjustments_fen",
        N_("Adjustments"),
        N_("Corrections, each with its reason and who approved it."),
    ),
)


@dataclass(frozen=True)
class MoveSpec:
    """A statement action as the page offers it, and what its confirmation says."""

    action: StatementAction
    sources: frozenset[str]
    button: str
    title: str
    message: str
    done: str
    danger: bool = True


MOVES = {
    "confirm": MoveSpec(
        StatementAction.confirm,
        frozenset({StatementStatus.draft.value}),
        N_("Confirm…"),
        N_("Confirm statement %(number)s?"),
        N_(
            "Confirmed, dealer %(dealer)s's period %(start)s – %(end)s is closed with a closing "
            "balance of %(closing)s: its figures are final, the dealer sees the statement, and "
            "anything that arrives for the period later is booked into the next open period."
        ),
        N_("Statement %(number)s is confirmed."),
        danger=False,
    ),
    "dispute": MoveSpec(
        StatementAction.dispute,
        frozenset({StatementStatus.draft.value, StatementStatus.confirmed.value}),
        N_("Dispute…"),
        N_("Dispute statement %(number)s?"),
        N_(
            "Disputed, the statement goes back to the sales centre with your comment; the "
            "dealer no longer sees it. Run the period again to draft it anew once the "
            "disagreement is settled."
        ),
        N_("Statement %(number)s is disputed."),
    ),
    "paid": MoveSpec(
        StatementAction.mark_paid,
        frozenset({StatementStatus.confirmed.value}),
        N_("Mark paid…"),
        N_("Mark statement %(number)s paid?"),
        N_(
            "Marked paid, the statement of %(closing)s is settled for good: it cannot be "
            "disputed any more. Record the dealer's payment first, if it is not on the account."
        ),
        N_("Statement %(number)s is marked paid."),
    ),
}


# --- Who sees what --------------------------------------------------------------------------


def _scope(user: User) -> str | None:
    """The dealer a dealer manager sees (None for the operator's staff); a dealer manager
    without a dealer sees nothing (the empty string matches no dealer)."""
    if Role(user.role) in (Role.dealer_manager, Role.clerk):
        return user.dealer_id or ""
    return None


def _statement(
    request: Request, session: Session, user: User, number: str
) -> SettlementStatement | Response:
    """The statement the URL names, or the page to answer instead: not found (the frame's
    404 page), or another dealer's (or one not yet confirmed) for dealer staff: the 403 page."""
    if not _NUMBER.fullmatch(number):
        raise NotFound(N_("There is no statement %(number)s."), params={"number": number[:40]})
    try:
        statement = runs.find_statement(session, number)
    except NotFound:
        raise NotFound(N_("There is no statement %(number)s."), params={"number": number}) from None
    scope = _scope(user)
    if scope is not None and not listing.visible_to_dealer(statement, scope):
        return refused(request, user, status.HTTP_403_FORBIDDEN)
    return statement


def _dealer(session: Session, statement: SettlementStatement) -> Dealer:
    dealer = session.get(Dealer, statement.dealer_id)
    assert dealer is not None  # a foreign key
    return dealer


# --- The list -------------------------------------------------------------------------------


@router.get("/settlement/statements", response_class=HTMLResponse)
def statements_page(
    request: Request,
    session: SessionDep,
    user: Reader,
    period: str | None = None,
    dealer: str | None = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    after: str | None = None,
) -> Response:
    """Newest period first; the filters are the URL's. Dealer managers: their own dealer's
    confirmed and paid statements."""
    _ = gettext_of(request)
    scope = _scope(user)
    form = {"period": (period or "").strip(), "dealer": (dealer or "").strip(), "status": ""}
    form["status"] = (status_ or "").strip()
    errors: dict[str, str] = {}
    period_start = None
    if form["period"]:
        try:
            period_start = date.fromisoformat(form["period"])
        except ValueError:
            errors["period"] = _("A date, e.g. 2026-10-01: the first day of the period.")
    dealer_id = None
    if form["dealer"] and scope is None:
        try:
            dealer_id = dealers.find_dealer(session, form["dealer"][:64]).id
        except NotFound:
            errors["dealer"] = _("No dealer %(code)s.") % {"code": form["dealer"][:64]}
    elif form["dealer"]:
        own = session.get(Dealer, scope) if scope else None
        if own is None or form["dealer"] not in (own.code, own.id):
            return refused(request, user, status.HTTP_403_FORBIDDEN)
    chosen_status = None
    shown_statuses = listing.DEALER_VISIBLE if scope is not None else set(STATUS_NAMES)
    if form["status"]:
        if form["status"] in shown_statuses:
            chosen_status = StatementStatus(form["status"])
        else:
            errors["status"] = _("Not a statement status.")
    rows: list[listing.StatementRow] = []
    next_after = None
    if not errors:
        rows, next_after = listing.statements_page(
            session,
            period_start=period_start,
            dealer_id=dealer_id,
            status=chosen_status,
            dealer_scope=scope,
            after=after if after and _NUMBER.fullmatch(after) else None,
            limit=PAGE,
        )
    return render(
        request,
        "settlement/statements.html",
        {
            "form": form,
            "errors": errors,
            "dealer_staff": scope is not None,
            "dealers": []
            if scope is not None
            else [(d.code, f"{d.code} {d.name}") for d in dealers.list_dealers(session)],
            "statuses": [(s, _(s)) for s in STATUS_NAMES if s in shown_statuses],
            "rows": rows,
            "next_after": next_after,
        },
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if errors else status.HTTP_200_OK,
    )


# --- A statement ----------------------------------------------------------------------------


@dataclass
class PaymentForm:
    amount: str = ""
    reference: str = ""


def _statement_context(
    request: Request,
    session: Session,
    user: User,
    statement: SettlementStatement,
    after: str | None = None,
) -> dict[str, Any]:
    lines, next_after = listing.lines_page(
        session, statement, after if after and _ENTRY_ID.fullmatch(after) else None, LINES_PAGE
    )
    operator = _scope(user) is None
    return {
        "statement": statement,
        "dealer": _dealer(session, statement),
        "figures": FIGURES,
        "movement": statement.closing_fen - statement.opening_fen,
        "lines": lines,
        "next_after": next_after,
        "kind_names": KIND_NAMES,
        "formats": FORMATS,
        "moves": [(name, m) for name, m in MOVES.items() if statement.status in m.sources]
        if operator
        else [],
        "operator": operator,
        "payment": PaymentForm(),
        "comment": "",
        "errors": {},
    }


@router.get("/settlement/statements/{number}", response_class=HTMLResponse)
def statement_page(
    request: Request,
    session: SessionDep,
    user: Reader,
    number: Annotated[str, Path()],
    after: str | None = None,
    done: str | None = None,
) -> Response:
    found = _statement(request, session, user, number)
    if isinstance(found, Response):
        return found
    _ = gettext_of(request)
    context = _statement_context(request, session, user, found, after)
    if done in MOVES:
        context["notice"] = _(MOVES[done].done) % {"number": found.number}
    elif done == "payment":
        context["notice"] = _("The payment is recorded on the dealer's account.")
    return render(request, "settlement/statement.html", context)


@router.get("/settlement/statements/{number}/{fmt}")
def download_statement(
    request: Request,
    session: SessionDep,
    user: Reader,
    number: Annotated[str, Path()],
    fmt: Literal["pdf", "xlsx", "csv"],
) -> Response:
    found = _statement(request, session, user, number)
    if isinstance(found, Response):
        return found
    body, media_type = documents.render(session, found.number, fmt)
    return attachment(body, media_type, f"{found.number}.{fmt}")


def _refusal(request: Request, error: ServiceError, statement: SettlementStatement) -> str:
    _ = gettext_of(request)
    if error.code == "statement_stale":
        return _(
            "The dealer's account has changed since this statement was drafted: run the period "
            "again, then confirm it."
        )
    if error.code == "illegal_transition":
        return _("Statement %(number)s is %(status)s now: this is not possible from there.") % {
            "number": statement.number,
            "status": _(statement.status),
        }
    return error_text(request, error)


def _again(
    request: Request,
    session: Session,
    user: User,
    statement: SettlementStatement,
    errors: dict[str, str],
    status_code: int = status.HTTP_422_UNPROCESSABLE_CONTENT,
    **values: object,
) -> Response:
    context = _statement_context(request, session, user, statement)
    context.update(errors=errors, **values)
    return render(request, "settlement/statement.html", context, status_code=status_code)


def _comment_problem(_: Translate, comment: str) -> str | None:
    if not comment:
        return _("Say what is disputed: the comment goes with the statement.")
    if len(comment) > COMMENT_MAX:
        return _("At most %(max)s characters.") % {"max": COMMENT_MAX}
    if problem(comment):
        return _("Contains a character that cannot be stored.")
    return None


@router.post(
    "/settlement/statements/{number}/payment",
    dependencies=[CsrfChecked],
    response_class=HTMLResponse,
)
def record_payment(
    request: Request,
    session: SessionDep,
    user: SalesCentre,
    number: Annotated[str, Path()],
    amount: Text = "",
    reference: Text = "",
    confirmed: Text = "",
) -> Response:
    """A payment received from the statement's dealer: the amount in yuan and the payment's
    reference, confirmed, then on the dealer's account (and its channel credit)."""
    _ = gettext_of(request)
    found = _statement(request, session, user, number)
    if isinstance(found, Response):
        return found
    dealer = _dealer(session, found)
    form = PaymentForm(amount.strip(), reference.strip())
    errors: dict[str, str] = {}
    fen = 0
    try:
        fen = parse_yuan(form.amount)
    except (MoneyError, TypeError):
        errors["amount"] = _("An amount in yuan, e.g. 1200 or 1200.50.")
    else:
        if fen <= 0:
            errors["amount"] = _("More than 0 yuan.")
        elif fen > ENTRY_LIMIT_FEN:
            errors["amount"] = _("At most %(max)s in one payment.") % {
                "max": format_fen(ENTRY_LIMIT_FEN)
            }
    if not form.reference:
        errors["reference"] = _("The payment's reference (bank transfer or receipt number).")
    elif len(form.reference) > REFERENCE_MAX:
        errors["reference"] = _("At most %(max)s characters.") % {"max": REFERENCE_MAX}
    elif problem(form.reference):
        errors["reference"] = _("Contains a character that cannot be stored.")
    if errors:
        return _again(request, session, user, found, errors, payment=form)
    if confirmed != "yes":
        values = {"amount": format_fen(fen), "dealer": f"{dealer.code} {dealer.name}"}
        return render(
            request,
            "confirm.html",
            {
                "title": _("Record a payment of %(amount)s from dealer %(dealer)s?") % values,
                "message": _(
                    "The payment goes on the dealer's account today, lowering what it owes, and "
                    "frees as much of its credit for new stock. A payment is not taken back: a "
                    "mistake needs an adjustment."
                ),
                "details": [
                    _("Reference: %(reference)s") % {"reference": form.reference},
                    _("Statement: %(number)s") % {"number": found.number},
                ],
                "action": f"/settlement/statements/{found.number}/payment",
                "fields": {"amount": form.amount, "reference": form.reference},
                "button": _("Record the payment"),
                "back": f"/settlement/statements/{found.number}",
            },
        )
    note = f"{form.reference} ({found.number})"
    try:
        accounts.record_payment(
            session, dealer.code, PaymentIn(amount_fen=fen, note=note), user.username
        )
    except ServiceError as error:
        session.rollback()
        return _again(
            request,
            session,
            user,
            found,
            {"payment": error_text(request, error)},
            status.HTTP_409_CONFLICT,
            payment=form,
        )
    return RedirectResponse(
        f"/settlement/statements/{found.number}?done=payment", status.HTTP_303_SEE_OTHER
    )


@router.post(
    "/settlement/statements/{number}/{move}",
    dependencies=[CsrfChecked],
    response_class=HTMLResponse,
)
def move_statement(
    request: Request,
    session: SessionDep,
    user: SalesCentre,
    number: Annotated[str, Path()],
    move: Annotated[str, Path()],
    comment: Text = "",
    confirmed: Text = "",
) -> Response:
    """Confirm, dispute or mark paid: without `confirmed=yes` the confirmation saying what
    will happen; with it, the move, and back to the statement."""
    _ = gettext_of(request)
    spec = MOVES.get(move)
    if spec is None:
        raise NotFound(N_("There is no such page. Check the address, or use the menu."))
    found = _statement(request, session, user, number)
    if isinstance(found, Response):
        return found
    comment = comment.strip()
    if spec.action is StatementAction.dispute and (trouble := _comment_problem(_, comment)):
        return _again(request, session, user, found, {"comment": trouble}, comment=comment)
    if found.status not in spec.sources:
        error = Conflict("illegal", code="illegal_transition")
        return _again(
            request,
            session,
            user,
            found,
            {"move": _refusal(request, error, found)},
            status.HTTP_409_CONFLICT,
        )
    if confirmed != "yes":
        dealer = _dealer(session, found)
        values = {
            "number": found.number,
            "dealer": dealer.code,
            "start": found.period_start.isoformat(),
            "end": found.period_end.isoformat(),
            "closing": format_fen(found.closing_fen),
        }
        details = [_("Comment: %(comment)s") % {"comment": comment}] if comment else []
        return render(
            request,
            "confirm.html",
            {
                "title": _(spec.title) % values,
                "message": _(spec.message) % values,
                "details": details,
                "action": f"/settlement/statements/{found.number}/{move}",
                "fields": {"comment": comment} if comment else {},
                "button": _(spec.button).rstrip("…"),
                "back": f"/settlement/statements/{found.number}",
            },
        )
    try:
        runs.move_statement(session, found.number, spec.action, user.username, comment)
    except ServiceError as error:
        session.rollback()
        session.refresh(found)
        return _again(
            request,
            session,
            user,
            found,
            {"move": _refusal(request, error, found)},
            status.HTTP_409_CONFLICT,
        )
    return RedirectResponse(
        f"/settlement/statements/{found.number}?done={move}", status.HTTP_303_SEE_OTHER
    )
