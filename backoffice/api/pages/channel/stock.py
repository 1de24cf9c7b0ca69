"""The sales centre's stock pages (销售中心): allocation by rule with its preview and delivery
note, the stock documents and their pages (PDF where one is printed), the receipt
discrepancies and their resolution, and the forms for a return to the centre, a transfer
between outlets and a stock count.

Allocation is by rule only: the form names products (a number grade, a card face value) and
counts, never items. The preview says, per rule, what the pool holds and what it costs the
dealer, and the dealer's credit after it; an allocation the pool or the credit cannot meet is
refused there. Every move asks for confirmation first; the use cases in services/channel make
it, and check it all again."""

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, select

from backoffice.api.deps import SessionDep, disposition
from backoffice.api.pages.frame import (
    CHANNEL_PAGES,
    CsrfChecked,
    error_text,
    gettext_of,
    page_user,
    refused,
    render,
)
from backoffice.contracts.channel import (
    AllocationRequest,
    AllocationRule,
    DiscrepancyResolution,
    ItemsIn,
    TransferIn,
)
from backoffice.core.i18n import N_, Translate
from backoffice.domain.channel import AllocationOrder, ItemKind
from backoffice.models import Dealer, NumberGrade, Outlet, User
from backoffice.services.channel import (
    allocation,
    allocation_preview,
    dealers,
    delivery_note,
    document_views,
    movements,
    receipts,
)
from backoffice.services.channel.allocation_preview import AllocationPreview
from backoffice.services.channel.items import split_items
from backoffice.services.errors import InvalidInput, NotFound, ServiceError
from shared.money import format_fen

router = APIRouter(include_in_schema=False)
SalesClerk = Annotated[User, page_user(CHANNEL_PAGES)]
Text = Annotated[str, Form()]
Texts = Annotated[list[str] | None, Form()]

KIND_NAMES = {
    "DN": N_("Delivery note"),
    "RC": N_("Receipt"),
    "RT": N_("Return to centre"),
    "TR": N_("Transfer"),
    "SC": N_("Stock count"),
    "SO": N_("Stock-out"),
}
STATUS_LABELS = {
    "allocated": N_("in transit"),
    "received": N_("received"),
    "discrepancy": N_("received with discrepancies"),
    "done": N_("done"),
}
ORDER_NAMES = {
    AllocationOrder.random.value: N_("Random"),
    AllocationOrder.in_order.value: N_("In order (lowest first)"),
}
ITEM_KINDS = {"number": N_("Number"), "voucher": N_("Top-up card"), "sim": N_("SIM card")}
DISCREPANCY_KINDS = {"missing": N_("missing"), "unexpected": N_("unexpected")}
DISCREPANCY_STATUSES = {"open": N_("open"), "resolved": N_("resolved")}
RESOLUTION_NAMES = {
    "received": N_("Found: it goes into the outlet's stock"),
    "returned_to_pool": N_("Back to the pool: the dealer is credited its price"),
    "written_off": N_("Written off: the item is frozen"),
    "noted": N_("Noted: the item stays where it is"),
}
DEALER_STATUSES = {
    "active": N_("active"),
    "suspended": N_("suspended"),
    "terminated": N_("terminated"),
}
# What the audit rows of a document say, as its history shows them.
ACTIONS = {
    "allocate": N_("allocated"),
    "receive": N_("received"),
    "resolve": N_("discrepancy resolved"),
    "return_to_centre": N_("returned to the centre"),
    "transfer": N_("sent to another outlet"),
    "stock_count": N_("stock counted"),
    "stock_out": N_("taken out of stock"),
}
# After a move, the page it leads to says what was done (a fixed message per key).
DONE = {
    "allocated": N_(
        "The allocation was made. Print the delivery note and send it with the items: the "
        "outlet receives them by scanning it."
    ),
    "returned": N_("The items are back in the pool and the dealer was credited."),
    "transferred": N_(
        "The transfer was made: the items are in transit until the receiving outlet "
        "receives them. Print the transfer note and send it with them."
    ),
    "counted": N_("The stock count was recorded: its differences are below."),
    "resolved": N_("The discrepancy was resolved."),
}
RULES_MAX = 20  # AllocationRequest takes at most 20 rules
COUNT_MAX = 100_000
ITEMS_MAX = 10_000
NOTE_MAX = 500
RESOLUTION_NOTE_MAX = 255
LINES_SHOWN = 500
CODE_MAX = 32
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SEPARATORS = re.compile(r"[\s,;，；、]+")
_RANGE = re.compile(r"([0-9]+)[-~～]([0-9]+)")
_DOCUMENT_ID = re.compile(r"[0-9a-f-]{36}")


def _not_found(request: Request, user: User, message: str, **params: object) -> Response:
    return refused(request, user, status.HTTP_404_NOT_FOUND, NotFound(message, params=params))


def _done(request: Request, done: str) -> str | None:
    return gettext_of(request)(DONE[done]) if done in DONE else None


def _to(path: str) -> RedirectResponse:
    return RedirectResponse(path, status.HTTP_303_SEE_OTHER)


def _note_problem(_: Translate, value: str, most: int) -> str | None:
    if _CONTROL.search(value.replace("\r\n", "\n").replace("\n", " ")):
        return _("Control characters are not allowed.")
    if len(value) > most:
        return _("At most %(n)s characters.") % {"n": most}
    return None


def _outlet_by_code(session: Session, code: str) -> Outlet | None:
    return session.exec(select(Outlet).where(Outlet.code == code)).first()


def _dealer_by_code(session: Session, code: str) -> Dealer | None:
    if not code or len(code) > CODE_MAX:
        return None
    return session.exec(select(Dealer).where(Dealer.code == code)).first()


def _groups(session: Session, dealer: Dealer | None) -> list[tuple[Dealer, list[Outlet]]]:
    """The outlet menu of one dealer (chosen first: a province has thousands of outlets)."""
    if dealer is None:
        return []
    return [(dealer, document_views.outlets_of(session, dealer.id))]


def _dealer_of_outlet(session: Session, outlet: Outlet | None) -> Dealer | None:
    return None if outlet is None else session.get(Dealer, outlet.dealer_id)


def _all_groups(session: Session) -> list[tuple[Dealer, list[Outlet]]]:
    return document_views.outlets_by_dealer(session)


def _dealers(session: Session) -> list[tuple[str, str]]:
    return dealers.dealer_choices(session)


# --- Allocation -------------------------------------------------------------------------------


@dataclass
class RuleRow:
    product: str = ""
    count: str = ""

    def blank(self) -> bool:
        return not self.product and not self.count


@dataclass
class AllocationForm:
    dealer: str = ""
    outlet: str = ""
    rows: list[RuleRow] = field(default_factory=list)
    order: str = AllocationOrder.random.value
    note: str = ""

    def filled(self) -> list[RuleRow]:
        return [row for row in self.rows if not row.blank()]

    def shown_rows(self) -> list[RuleRow]:
        """The rows as sent, and blank ones to add rules (at most RULES_MAX in all)."""
        rows = list(self.rows)
        while rows and rows[-1].blank():
            rows.pop()
        rows += [RuleRow() for _ in range(3 if not rows else 2)]
        return rows[: max(RULES_MAX, len(self.filled()))]

    def fields(self) -> list[tuple[str, str]]:
        """The form as fields (repeated names for the rules): for the confirmation's hidden
        inputs and for the link back to the form."""
        out = [("dealer", self.dealer), ("outlet", self.outlet)]
        for row in self.filled():
            out += [("product", row.product), ("count", row.count)]
        return [*out, ("order", self.order), ("note", self.note)]

    def query(self) -> str:
        return urlencode([(k, v) for k, v in self.fields() if v])


def _allocation_form(
    dealer: str, outlet: str, products: list[str], counts: list[str], order: str, note: str
) -> AllocationForm:
    width = max(len(products), len(counts))
    products = [p.strip()[:64] for p in products] + [""] * (width - len(products))
    counts = [c.strip()[:16] for c in counts] + [""] * (width - len(counts))
    return AllocationForm(
        dealer=dealer.strip()[:CODE_MAX],
        outlet=outlet.strip()[:CODE_MAX],
        rows=[RuleRow(p, c) for p, c in zip(products, counts, strict=True)][: RULES_MAX * 2],
        order=order.strip()[:16],
        note=note.strip(),
    )


@dataclass(frozen=True)
class Products:
    """What a rule may ask for: the number grades and the card face values priced."""

    grades: list[NumberGrade]
    face_values: list[int]

    def options(self, _: Translate) -> list[tuple[str, list[tuple[str, str]]]]:
        return [
            (
                _("Numbers (with their paired SIM cards)"),
                [(f"number:{g.code}", f"{g.code} {g.name}") for g in self.grades],
            ),
            (
                _("Top-up cards"),
                [(f"voucher:{v}", format_fen(v)) for v in self.face_values],
            ),
        ]

    def rule(self, product: str, count: int) -> AllocationRule | None:
        kind, _, value = product.partition(":")
        if kind == "number" and value in {g.code for g in self.grades}:
            return AllocationRule(item_kind="number", count=count, grade=value)
        if kind == "voucher" and value.isdigit() and int(value) in self.face_values:
            return AllocationRule(item_kind="voucher", count=count, face_value_fen=int(value))
        return None

    def label(self, _: Translate, product: str) -> str:
        kind, _sep, value = product.partition(":")
        if kind == "number":
            name = next((g.name for g in self.grades if g.code == value), "")
            return _("Numbers, grade %(grade)s") % {"grade": f"{value} {name}".strip()}
        return _("Top-up cards of %(value)s") % {"value": format_fen(int(value))}


def _products(session: Session) -> Products:
    return Products(
        allocation_preview.grades(session), allocation_preview.card_face_values(session)
    )


@dataclass
class CheckedAllocation:
    errors: dict[str, str]
    outlet: Outlet | None = None
    rules: list[AllocationRule] = field(default_factory=list)


def _check_allocation(
    _: Translate, session: Session, form: AllocationForm, products: Products
) -> CheckedAllocation:
    errors: dict[str, str] = {}
    dealer = None
    if form.dealer:
        dealer = _dealer_by_code(session, form.dealer)
        if dealer is None:
            errors["dealer"] = _("There is no such dealer.")
    outlet = _outlet_by_code(session, form.outlet) if form.outlet else None
    if not form.outlet:
        errors["outlet"] = _("Choose the outlet the items go to.")
    elif outlet is None or (dealer is not None and outlet.dealer_id != dealer.id):
        errors["outlet"] = _("The dealer has no such outlet.")
    rules: list[AllocationRule] = []
    seen: set[str] = set()
    for index, row in enumerate(form.rows):
        if row.blank():
            continue
        count = None
        if not row.count.isascii() or not row.count.isdigit() or int(row.count) < 1:
            errors[f"count-{index}"] = _("A whole number of items, at least 1.")
        elif int(row.count) > COUNT_MAX:
            errors[f"count-{index}"] = _("At most %(n)s in one rule.") % {"n": f"{COUNT_MAX:,}"}
        else:
            count = int(row.count)
        rule = products.rule(row.product, count or 1)
        if not row.product:
            errors[f"product-{index}"] = _("Choose what to allocate.")
        elif rule is None:
            errors[f"product-{index}"] = _("There is no such product: choose one of the list.")
        elif row.product in seen:
            errors[f"product-{index}"] = _(
                "This product has a rule above already: put the whole count there."
            )
        elif count is not None:
            rules.append(rule)
        seen.add(row.product)
    if not form.filled():
        errors["rules"] = _("Add at least one rule: what to allocate and how many.")
    elif len(form.filled()) > RULES_MAX:
        errors["rules"] = _("At most %(n)s rules in one allocation.") % {"n": RULES_MAX}
    if form.order not in ORDER_NAMES:
        errors["order"] = _("Random or in order.")
    if problem := _note_problem(_, form.note, NOTE_MAX):
        errors["note"] = problem
    return CheckedAllocation(errors, outlet, rules)


def _allocations_page(
    request: Request,
    session: Session,
    form: AllocationForm,
    after: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    _ = gettext_of(request)
    dealer = _dealer_by_code(session, form.dealer) if form.dealer else None
    recent, next_after = document_views.documents_page(
        session, kind="DN", after=_id_key(after), limit=20
    )
    return render(
        request,
        "channel/allocations.html",
        {
            "form": form,
            "errors": errors or {},
            "products": _products(session).options(_),
            "dealers": _dealers(session),
            "groups": _groups(session, dealer),
            "dealer_code": dealer.code if dealer else "",
            "orders": [(k, _(v)) for k, v in ORDER_NAMES.items()],
            "recent": recent,
            "next_after": next_after,
            "status_labels": STATUS_LABELS,
        },
        status_code=status_code,
    )


def _id_key(value: str | None) -> str | None:
    return value if value and _DOCUMENT_ID.fullmatch(value) else None


@router.get("/channel/allocations", response_class=HTMLResponse)
def allocations_page(
    request: Request,
    session: SessionDep,
    _user: SalesClerk,
    after: str | None = None,
    dealer: str = "",
    outlet: str = "",
    order: str = AllocationOrder.random.value,
    note: str = "",
) -> Response:
    """The allocation form (filled from the URL when the preview sends the clerk back to
    change it), and the recent delivery notes."""
    query = request.query_params
    form = _allocation_form(
        dealer, outlet, query.getlist("product"), query.getlist("count"), order, note[:NOTE_MAX]
    )
    return _allocations_page(request, session, form, after)


@router.get("/channel/allocations/outlets", response_class=HTMLResponse)
def outlet_menu(
    request: Request, session: SessionDep, _user: SalesClerk, dealer: str = ""
) -> Response:
    """The outlet menu for the dealer chosen (htmx swaps it in)."""
    chosen = _dealer_by_code(session, dealer.strip())
    return render(
        request,
        "channel/stock_outlet.html",
        {
            "name": "outlet",
            "label": gettext_of(request)("Outlet"),
            "groups": _groups(session, chosen),
            "value": "",
            "errors": {},
            "dealer_code": chosen.code if chosen else "",
        },
    )


def _refusals(_: Translate, shown: AllocationPreview) -> list[str]:
    """Why the allocation cannot be made, in words for the clerk."""
    out = []
    if not shown.dealer_active:
        out.append(
            _("Dealer %(dealer)s is %(status)s: nothing can be allocated to it.")
            % {
                "dealer": shown.dealer.code,
                "status": _(DEALER_STATUSES.get(shown.dealer.status, shown.dealer.status)),
            }
        )
    if any(not rule.met for rule in shown.rules):
        out.append(_("The pool cannot meet every rule: lower the counts marked, or ask less."))
    if any(rule.price is None for rule in shown.rules):
        out.append(
            _(
                "A product has no dealer price in the price list in force: it cannot be "
                "allocated until it has one."
            )
        )
    if shown.over_limit:
        out.append(_over_limit(_, shown))
    return out


def _over_limit(_: Translate, shown: AllocationPreview) -> str:
    return _(
        "Refused: %(charge)s more would put dealer %(dealer)s over its credit limit of "
        "%(limit)s (it owes %(owed)s already). Lower the counts, or have the dealer pay first."
    ) % {
        "charge": format_fen(shown.charge_fen),
        "dealer": shown.dealer.code,
        "limit": format_fen(shown.credit_limit_fen),
        "owed": format_fen(shown.owed_fen),
    }


def _preview_page(
    request: Request,
    session: Session,
    form: AllocationForm,
    shown: AllocationPreview,
    products: Products,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    _ = gettext_of(request)
    refusals = _refusals(_, shown)
    if error:
        refusals.insert(0, error)
    question = _(
        "Allocate %(count)s items to outlet %(outlet)s (dealer %(dealer)s) for %(charge)s?"
    ) % {
        "count": f"{shown.item_count:,}",
        "outlet": f"{shown.outlet.code} {shown.outlet.name}",
        "dealer": f"{shown.dealer.code} {shown.dealer.name}",
        "charge": format_fen(shown.charge_fen),
    }
    return render(
        request,
        "channel/allocation_preview.html",
        {
            "form": form,
            "preview": shown,
            "labels": [products.label(_, rule.product) for rule in shown.rules],
            "refusals": refusals,
            "question": question if shown.possible and not error else None,
            "order_name": _(ORDER_NAMES.get(form.order, form.order)),
        },
        status_code=status_code if shown.possible and not error else status.HTTP_409_CONFLICT,
    )


def _posted_allocation(
    dealer: str,
    outlet: str,
    product: list[str] | None,
    count: list[str] | None,
    order: str,
    note: str,
) -> AllocationForm:
    return _allocation_form(dealer, outlet, product or [], count or [], order, note)


@router.post(
    "/channel/allocations/preview", dependencies=[CsrfChecked], response_class=HTMLResponse
)
def preview_allocation(
    request: Request,
    session: SessionDep,
    _user: SalesClerk,
    dealer: Text = "",
    outlet: Text = "",
    product: Texts = None,
    count: Texts = None,
    order: Text = AllocationOrder.random.value,
    note: Text = "",
) -> Response:
    """Checks the rules beside each row, then shows what the allocation would do: per rule
    what the pool holds and what it costs, and the dealer's credit after it."""
    _ = gettext_of(request)
    form = _posted_allocation(dealer, outlet, product, count, order, note)
    products = _products(session)
    checked = _check_allocation(_, session, form, products)
    if checked.errors or checked.outlet is None:
        return _allocations_page(
            request, session, form, None, checked.errors, status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    shown = allocation_preview.preview(session, checked.outlet, checked.rules)
    return _preview_page(request, session, form, shown, products)


def _allocation_refusal(_: Translate, request: Request, error: ServiceError) -> str:
    if error.code == "credit_limit_exceeded":
        return _("Refused: the allocation would put the dealer over its credit limit.")
    if error.code == "insufficient_stock":
        return _(
            "The pool no longer holds enough for a rule (another allocation took items "
            "meanwhile): see the counts below."
        )
    return error_text(request, error)


@router.post("/channel/allocations", dependencies=[CsrfChecked], response_class=HTMLResponse)
def allocate(
    request: Request,
    session: SessionDep,
    user: SalesClerk,
    dealer: Text = "",
    outlet: Text = "",
    product: Texts = None,
    count: Texts = None,
    order: Text = AllocationOrder.random.value,
    note: Text = "",
    confirmed: Text = "",
) -> Response:
    """After the preview: makes the allocation (the use case picks the items by rule and
    charges the dealer, all or nothing) and shows its delivery note."""
    _ = gettext_of(request)
    form = _posted_allocation(dealer, outlet, product, count, order, note)
    products = _products(session)
    checked = _check_allocation(_, session, form, products)
    if checked.errors or checked.outlet is None:
        return _allocations_page(
            request, session, form, None, checked.errors, status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    shown = allocation_preview.preview(session, checked.outlet, checked.rules)
    if confirmed != "yes" or not shown.possible:
        return _preview_page(request, session, form, shown, products)
    try:
        document = allocation.allocate(
            session,
            AllocationRequest(
                outlet=checked.outlet.code,
                rules=checked.rules,
                order=AllocationOrder(form.order),
                note=form.note,
            ),
            user.username,
        )
    except ServiceError as error:
        session.rollback()
        shown = allocation_preview.preview(session, checked.outlet, checked.rules)
        message = _allocation_refusal(_, request, error)
        return _preview_page(request, session, form, shown, products, message)
    return _to(f"/channel/documents/{document.number}?done=allocated")


# --- Stock documents ----------------------------------------------------------------------------


@dataclass
class DocumentFilters:
    kind: str = ""
    status: str = ""
    dealer: str = ""
    outlet: str = ""

    def any(self) -> bool:
        return bool(self.kind or self.status or self.dealer or self.outlet)


@router.get("/channel/documents", response_class=HTMLResponse)
def documents_page(
    request: Request,
    session: SessionDep,
    _user: SalesClerk,
    kind: str = "",
    state: Annotated[str, Query(alias="status")] = "",
    dealer: str = "",
    outlet: str = "",
    after: str | None = None,
) -> Response:
    """The channel's stock documents, newest first, by kind, status, dealer and outlet."""
    _ = gettext_of(request)
    filters = DocumentFilters(
        kind=kind if kind in KIND_NAMES else "",
        status=state if state in STATUS_LABELS else "",
        dealer=dealer.strip()[:CODE_MAX],
        outlet=outlet.strip()[:CODE_MAX],
    )
    errors: dict[str, str] = {}
    chosen_dealer = _dealer_by_code(session, filters.dealer) if filters.dealer else None
    if filters.dealer and chosen_dealer is None:
        errors["dealer"] = _("There is no such dealer.")
    chosen_outlet = _outlet_by_code(session, filters.outlet) if filters.outlet else None
    if filters.outlet and chosen_outlet is None:
        errors["outlet"] = _("There is no such outlet.")
    rows, next_after = ([], None)
    if not errors:
        rows, next_after = document_views.documents_page(
            session,
            kind=filters.kind or None,
            status=filters.status or None,
            dealer_id=chosen_dealer.id if chosen_dealer else None,
            outlet_id=chosen_outlet.id if chosen_outlet else None,
            after=_id_key(after),
        )
    return render(
        request,
        "channel/documents.html",
        {
            "filters": filters,
            "errors": errors,
            "kinds": [(k, _(v)) for k, v in KIND_NAMES.items()],
            "statuses": [(k, _(v)) for k, v in STATUS_LABELS.items()],
            "dealers": _dealers(session),
            # The outlet filter lists the chosen dealer's outlets (or the chosen outlet's).
            "groups": _groups(session, chosen_dealer or _dealer_of_outlet(session, chosen_outlet)),
            "rows": rows,
            "next_after": next_after,
            "kind_names": KIND_NAMES,
            "status_labels": STATUS_LABELS,
        },
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if errors else status.HTTP_200_OK,
    )


# --- Return to centre, transfer, stock count ----------------------------------------------------

Move = Literal["return", "transfer", "count"]
MOVE_TITLES = {
    "return": N_("Return to centre"),
    "transfer": N_("Transfer between outlets"),
    "count": N_("Stock count"),
}


@dataclass
class MoveForm:
    outlet: str = ""
    to_outlet: str = ""
    items: str = ""
    note: str = ""

    def hidden(self) -> dict[str, str]:
        return {
            "outlet": self.outlet,
            "to_outlet": self.to_outlet,
            "items": self.items,
            "note": self.note,
        }


def _parse_items(_: Translate, text: str) -> tuple[list[str], str | None]:
    """The items typed or scanned, one a line (or separated by spaces or commas), a range as
    first-last; each a mobile number (11 digits) or a card serial (17 digits)."""
    codes: list[str] = []
    for token in _SEPARATORS.split(text.strip()):
        if not token:
            continue
        found = _RANGE.fullmatch(token)
        first, last = found.groups() if found else (token, token)
        for value in (first, last):
            try:
                split_items([value])
            except InvalidInput:
                return [], _(
                    "%(item)s is neither a mobile number (11 digits) nor a top-up card serial "
                    "(17 digits)."
                ) % {"item": value[:40]}
        if len(first) != len(last) or int(last) < int(first):
            return [], _("%(range)s is not a range: the last item is below the first.") % {
                "range": token[:60]
            }
        if int(last) - int(first) + 1 + len(codes) > ITEMS_MAX:
            return [], _("At most %(n)s items at a time.") % {"n": f"{ITEMS_MAX:,}"}
        codes += [f"{n:0{len(first)}d}" for n in range(int(first), int(last) + 1)]
    unique = list(dict.fromkeys(codes))
    return unique, None


def _move_page(
    request: Request,
    session: Session,
    move: Move,
    form: MoveForm | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    _ = gettext_of(request)
    return render(
        request,
        "channel/stock_move.html",
        {
            "move": move,
            "title": _(MOVE_TITLES[move]),
            "form": form or MoveForm(),
            "errors": errors or {},
            "groups": _all_groups(session),
        },
        status_code=status_code,
    )


@router.get("/channel/documents/return", response_class=HTMLResponse)
def return_form(
    request: Request, session: SessionDep, _user: SalesClerk, outlet: str = ""
) -> Response:
    return _move_page(request, session, "return", MoveForm(outlet=outlet[:CODE_MAX]))


@router.get("/channel/documents/transfer", response_class=HTMLResponse)
def transfer_form(
    request: Request, session: SessionDep, _user: SalesClerk, outlet: str = ""
) -> Response:
    return _move_page(request, session, "transfer", MoveForm(outlet=outlet[:CODE_MAX]))


@router.get("/channel/documents/count", response_class=HTMLResponse)
def count_form(
    request: Request, session: SessionDep, _user: SalesClerk, outlet: str = ""
) -> Response:
    return _move_page(request, session, "count", MoveForm(outlet=outlet[:CODE_MAX]))


@dataclass
class CheckedMove:
    errors: dict[str, str]
    outlet: Outlet | None
    to_outlet: Outlet | None
    codes: list[str]


def _check_move(_: Translate, session: Session, move: Move, form: MoveForm) -> CheckedMove:
    errors: dict[str, str] = {}
    outlet = _outlet_by_code(session, form.outlet) if form.outlet else None
    if outlet is None:
        errors["outlet"] = (
            _("Choose the outlet.") if not form.outlet else _("There is no such outlet.")
        )
    to_outlet = None
    if move == "transfer":
        to_outlet = _outlet_by_code(session, form.to_outlet) if form.to_outlet else None
        if to_outlet is None:
            errors["to_outlet"] = (
                _("Choose the outlet the items go to.")
                if not form.to_outlet
                else _("There is no such outlet.")
            )
        elif outlet is not None and to_outlet.id == outlet.id:
            errors["to_outlet"] = _("A transfer goes to another outlet.")
        elif outlet is not None and to_outlet.dealer_id != outlet.dealer_id:
            errors["to_outlet"] = _(
                "Transfers stay within one dealer: return the items to the centre and "
                "allocate them to the other dealer instead."
            )
    codes, problem = _parse_items(_, form.items)
    if problem:
        errors["items"] = problem
    elif not codes and move != "count":
        errors["items"] = _("Scan or type the items, one a line (a range as first-last).")
    if note_problem := _note_problem(_, form.note, NOTE_MAX):
        errors["note"] = note_problem
    if not errors and outlet is not None and move in ("return", "transfer"):
        absent = document_views.not_held(
            session, outlet.id, split_items(codes), "return" if move == "return" else "transfer"
        )
        if absent:
            shown = ", ".join(absent[:10]) + (" …" if len(absent) > 10 else "")
            errors["items"] = (
                _(
                    "%(n)s of these items are not at outlet %(outlet)s in a state that can be "
                    "returned: %(items)s"
                )
                if move == "return"
                else _("%(n)s of these items are not in stock at outlet %(outlet)s: %(items)s")
            ) % {"n": len(absent), "outlet": outlet.code, "items": shown}
    return CheckedMove(errors, outlet, to_outlet, codes)


def _kinds_count(_: Translate, codes: list[str]) -> str:
    by_kind = split_items(codes)
    return _("%(numbers)s numbers and %(cards)s top-up cards") % {
        "numbers": f"{len(by_kind[ItemKind.number]):,}",
        "cards": f"{len(by_kind[ItemKind.voucher]):,}",
    }


def _move_question(_: Translate, move: Move, checked: CheckedMove) -> tuple[str, list[str], str]:
    """The confirmation's question, its details and its button."""
    assert checked.outlet is not None
    outlet = f"{checked.outlet.code} {checked.outlet.name}"
    what = _kinds_count(_, checked.codes)
    if move == "return":
        return (
            _("Return %(count)s items from outlet %(outlet)s to the centre?")
            % {"count": f"{len(checked.codes):,}", "outlet": outlet},
            [
                what,
                _(
                    "They go back to the pool, paired SIM cards with their numbers, and the "
                    "dealer is credited the dealer price of each."
                ),
                _("A return document is made; a return cannot be undone."),
            ],
            _("Return them"),
        )
    if move == "transfer":
        assert checked.to_outlet is not None
        return (
            _("Send %(count)s items from outlet %(outlet)s to outlet %(to)s?")
            % {
                "count": f"{len(checked.codes):,}",
                "outlet": outlet,
                "to": f"{checked.to_outlet.code} {checked.to_outlet.name}",
            },
            [
                what,
                _(
                    "They are in transit until the receiving outlet scans the transfer note "
                    "and the items."
                ),
            ],
            _("Transfer them"),
        )
    return (
        _("Record a stock count of %(count)s items at outlet %(outlet)s?")
        % {"count": f"{len(checked.codes):,}", "outlet": outlet},
        [
            what,
            _(
                "What the outlet should hold and was not scanned is reported missing; what was "
                "scanned and is not the outlet's is reported unexpected. Nothing moves."
            ),
        ],
        _("Record the count"),
    )


def _move_post(
    request: Request,
    session: Session,
    user: User,
    move: Move,
    form: MoveForm,
    confirmed: str,
) -> Response:
    _ = gettext_of(request)
    checked = _check_move(_, session, move, form)
    if checked.errors or checked.outlet is None:
        return _move_page(
            request, session, move, form, checked.errors, status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    if confirmed != "yes":
        question, details, button = _move_question(_, move, checked)
        return render(
            request,
            "confirm.html",
            {
                "title": _(MOVE_TITLES[move]),
                "message": question,
                "details": details
                + ([_("Note: %(note)s") % {"note": form.note}] if form.note else []),
                "action": f"/channel/documents/{move}",
                "fields": form.hidden(),
                "button": button,
                "back": f"/channel/documents/{move}?outlet={checked.outlet.code}",
            },
        )
    try:
        if move == "return":
            document = movements.return_to_centre(
                session,
                ItemsIn(outlet=checked.outlet.code, items=checked.codes, note=form.note),
                user.username,
            )
            done = "returned"
        elif move == "transfer":
            assert checked.to_outlet is not None
            document = movements.transfer(
                session,
                TransferIn(
                    from_outlet=checked.outlet.code,
                    to_outlet=checked.to_outlet.code,
                    items=checked.codes,
                    note=form.note,
                ),
                user.username,
            )
            done = "transferred"
        else:
            document = movements.stock_count(
                session, checked.outlet.code, checked.codes, user.username
            ).document
            done = "counted"
    except ServiceError as error:
        session.rollback()
        return _move_page(
            request,
            session,
            move,
            form,
            {"items": error_text(request, error)},
            status.HTTP_409_CONFLICT,
        )
    return _to(f"/channel/documents/{document.number}?done={done}")


@router.post("/channel/documents/return", dependencies=[CsrfChecked], response_class=HTMLResponse)
def return_to_centre(
    request: Request,
    session: SessionDep,
    user: SalesClerk,
    outlet: Text = "",
    items: Text = "",
    note: Text = "",
    confirmed: Text = "",
) -> Response:
    """Outlet stock back to the pool, the dealer credited: asks first, with the counts."""
    form = MoveForm(outlet=outlet.strip()[:CODE_MAX], items=items, note=note.strip())
    return _move_post(request, session, user, "return", form, confirmed)


@router.post("/channel/documents/transfer", dependencies=[CsrfChecked], response_class=HTMLResponse)
def transfer(
    request: Request,
    session: SessionDep,
    user: SalesClerk,
    outlet: Text = "",
    to_outlet: Text = "",
    items: Text = "",
    note: Text = "",
    confirmed: Text = "",
) -> Response:
    """Outlet stock sent to another outlet of the same dealer: asks first."""
    form = MoveForm(
        outlet=outlet.strip()[:CODE_MAX],
        to_outlet=to_outlet.strip()[:CODE_MAX],
        items=items,
        note=note.strip(),
    )
    return _move_post(request, session, user, "transfer", form, confirmed)


@router.post("/channel/documents/count", dependencies=[CsrfChecked], response_class=HTMLResponse)
def stock_count(
    request: Request,
    session: SessionDep,
    user: SalesClerk,
    outlet: Text = "",
    items: Text = "",
    note: Text = "",
    confirmed: Text = "",
) -> Response:
    """Everything scanned on an outlet's shelf, against what it should hold: asks first."""
    form = MoveForm(outlet=outlet.strip()[:CODE_MAX], items=items, note=note.strip())
    return _move_post(request, session, user, "count", form, confirmed)


# --- A document ---------------------------------------------------------------------------------


def _document_or_404(
    request: Request, session: Session, user: User, number: str
) -> document_views.StockDocument | Response:
    found = document_views.find(session, number[:32]) if len(number) <= 32 else None
    if found is None:
        return _not_found(
            request, user, N_("Stock document %(number)s not found."), number=number[:32]
        )
    return found


@router.get("/channel/documents/{number}", response_class=HTMLResponse)
def document_page(
    request: Request, session: SessionDep, user: SalesClerk, number: str, done: str = ""
) -> Response:
    """A stock document: what it moved (its lines), its status, its discrepancies, its
    history from the audit log, and its PDF where one is printed."""
    found = _document_or_404(request, session, user, number)
    if isinstance(found, Response):
        return found
    detail = document_views.document_detail(session, found)
    return render(
        request,
        "channel/document.html",
        {
            "detail": detail,
            "lines": detail.document.lines[:LINES_SHOWN],
            "more_lines": max(0, len(detail.document.lines) - LINES_SHOWN),
            "total": sum(line.item_count for line in detail.document.lines),
            "kind_names": KIND_NAMES,
            "status_labels": STATUS_LABELS,
            "item_kinds": ITEM_KINDS,
            "discrepancy_kinds": DISCREPANCY_KINDS,
            "discrepancy_statuses": DISCREPANCY_STATUSES,
            "resolutions": RESOLUTION_NAMES,
            "actions": ACTIONS,
            "notice": _done(request, done),
        },
    )


@router.get("/channel/documents/{number}/pdf")
def document_pdf(request: Request, session: SessionDep, user: SalesClerk, number: str) -> Response:
    """The delivery note or transfer note as a PDF with barcodes, to print."""
    found = _document_or_404(request, session, user, number)
    if isinstance(found, Response):
        return found
    if found.kind not in document_views.PRINTED_KINDS:
        return _not_found(
            request, user, N_("Stock document %(number)s has no PDF."), number=found.number
        )
    pdf = delivery_note.render_delivery_note(session, found.number)
    return Response(
        pdf, media_type="application/pdf", headers=disposition(f"{found.number}.pdf", "inline")
    )


# --- Receipt discrepancies ------------------------------------------------------------------------


@router.get("/channel/discrepancies", response_class=HTMLResponse)
def discrepancies_page(
    request: Request,
    session: SessionDep,
    _user: SalesClerk,
    state: Annotated[str, Query(alias="status")] = "open",
    dealer: str = "",
    after: str | None = None,
) -> Response:
    """Items a receipt found missing or unexpected, open ones first by default."""
    _ = gettext_of(request)
    shown_status = state if state in DISCREPANCY_STATUSES or state == "all" else "open"
    chosen = _dealer_by_code(session, dealer.strip()[:CODE_MAX]) if dealer else None
    errors = {"dealer": _("There is no such dealer.")} if dealer and chosen is None else {}
    rows, next_after = [], None
    if not errors:
        rows, next_after = document_views.discrepancies_page(
            session,
            status=None if shown_status == "all" else shown_status,
            dealer_id=chosen.id if chosen else None,
            after=int(after) if after and after.isdigit() and len(after) < 12 else None,
        )
    return render(
        request,
        "channel/discrepancies.html",
        {
            "status": shown_status,
            "dealer": dealer.strip()[:CODE_MAX],
            "errors": errors,
            "statuses": [
                *((k, _(v)) for k, v in DISCREPANCY_STATUSES.items()),
                ("all", _("open and resolved")),
            ],
            "dealers": _dealers(session),
            "rows": rows,
            "next_after": next_after,
            "item_kinds": ITEM_KINDS,
            "discrepancy_kinds": DISCREPANCY_KINDS,
            "discrepancy_statuses": DISCREPANCY_STATUSES,
            "resolutions": RESOLUTION_NAMES,
        },
        status_code=status_code_of(errors),
    )


def status_code_of(errors: dict[str, str]) -> int:
    return status.HTTP_422_UNPROCESSABLE_CONTENT if errors else status.HTTP_200_OK


def _discrepancy_page(
    request: Request,
    row: document_views.DiscrepancyRow,
    resolution: str = "",
    note: str = "",
    errors: dict[str, str] | None = None,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    _ = gettext_of(request)
    return render(
        request,
        "channel/discrepancy.html",
        {
            "row": row,
            "choices": [
                (k, _(RESOLUTION_NAMES[k]))
                for k in document_views.resolutions_for(row.discrepancy.kind)
            ],
            "resolution": resolution,
            "note": note,
            "errors": errors or {},
            "error": error,
            "notice": notice,
            "item_kinds": ITEM_KINDS,
            "discrepancy_kinds": DISCREPANCY_KINDS,
            "discrepancy_statuses": DISCREPANCY_STATUSES,
            "resolutions": RESOLUTION_NAMES,
            "kind_names": KIND_NAMES,
        },
        status_code=status_code,
    )


def _discrepancy_or_404(
    request: Request, session: Session, user: User, key: str
) -> document_views.DiscrepancyRow | Response:
    row = document_views.discrepancy(session, int(key)) if key.isdigit() and len(key) < 10 else None
    if row is None:
        return _not_found(request, user, N_("Discrepancy %(id)s not found."), id=key[:12])
    return row


@router.get("/channel/discrepancies/{key}", response_class=HTMLResponse)
def discrepancy_page(
    request: Request, session: SessionDep, user: SalesClerk, key: str, done: str = ""
) -> Response:
    """One discrepancy: the item, its document and outlet, and how it may be resolved."""
    row = _discrepancy_or_404(request, session, user, key)
    if isinstance(row, Response):
        return row
    return _discrepancy_page(request, row, notice=_done(request, done))


@router.post(
    "/channel/discrepancies/{key}/resolve",
    dependencies=[CsrfChecked],
    response_class=HTMLResponse,
)
def resolve(
    request: Request,
    session: SessionDep,
    user: SalesClerk,
    key: str,
    resolution: Text = "",
    note: Text = "",
    confirmed: Text = "",
) -> Response:
    """The sales centre's decision on a discrepancy: asks first, then the use case moves
    the item (into stock, back to the pool with a credit, or frozen) or only notes it."""
    _ = gettext_of(request)
    row = _discrepancy_or_404(request, session, user, key)
    if isinstance(row, Response):
        return row
    note = note.strip()
    errors: dict[str, str] = {}
    if row.discrepancy.status != "open":
        return _discrepancy_page(
            request,
            row,
            error=_("This discrepancy is resolved already."),
            status_code=status.HTTP_409_CONFLICT,
        )
    if resolution not in document_views.resolutions_for(row.discrepancy.kind):
        errors["resolution"] = _("Choose how the discrepancy is resolved.")
    if problem := _note_problem(_, note, RESOLUTION_NOTE_MAX):
        errors["note"] = problem
    if errors:
        return _discrepancy_page(
            request,
            row,
            resolution,
            note,
            errors,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    d = row.discrepancy
    if confirmed != "yes":
        return render(
            request,
            "confirm.html",
            {
                "title": _("Resolve a discrepancy"),
                "message": _(
                    "Resolve %(item)s, %(kind)s at the receipt of %(document)s, as: %(resolution)s?"
                )
                % {
                    "item": d.item_key,
                    "kind": _(DISCREPANCY_KINDS.get(d.kind, d.kind)),
                    "document": row.document.number,
                    "resolution": _(RESOLUTION_NAMES[resolution]),
                },
                "details": [
                    _("A resolution cannot be undone."),
                    *([_("Note: %(note)s") % {"note": note}] if note else []),
                ],
                "action": f"/channel/discrepancies/{d.id}/resolve",
                "fields": {"resolution": resolution, "note": note},
                "button": _("Resolve"),
                "back": f"/channel/discrepancies/{d.id}",
            },
        )
    try:
        receipts.resolve_discrepancy(
            session,
            d.id or 0,
            DiscrepancyResolution(resolution=resolution, note=note),  # type: ignore[arg-type]
            user.username,
        )
    except ServiceError as error:
        session.rollback()
        fresh = document_views.discrepancy(session, d.id or 0)
        message = (
            _("The item is no longer in transit on that document: it has moved since.")
            if error.code == "item_moved"
            else error_text(request, error)
        )
        return _discrepancy_page(
            request,
            fresh or row,
            resolution,
            note,
            error=message,
            status_code=status.HTTP_409_CONFLICT,
        )
    return _to(f"/channel/discrepancies/{d.id}?done=resolved")
