"""Price lists for administrators: the versions and their items, a new version (after a
confirmation that says what changes; terminals take it at their next pull), each dealer's
own prices and override caps, and the grades' prices."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from backoffice.api.deps import SessionDep, SettingsDep
from backoffice.api.errors import status_of
from backoffice.api.pages.frame import (
    ADMIN_PAGES,
    OFFICE_ZONE,
    CsrfChecked,
    error_text,
    gettext_of,
    page_user,
    refused,
    render,
)
from backoffice.contracts.billing import GradeUpdate
from backoffice.contracts.channel import OverrideCapsIn, PriceIn, PriceListCreate
from backoffice.core.i18n import N_, Translate
from backoffice.domain.channel import PricingError, check_product
from backoffice.models import Dealer, PriceList, User
from backoffice.services.billing import grading
from backoffice.services.channel import dealers, prices
from backoffice.services.errors import NotFound, ServiceError
from shared.checks import INT32_MAX
from shared.money import MoneyError, format_fen, parse_yuan
from shared.overrides import OverrideCaps

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
BLANK_ROWS = 5
MAX_ITEMS = 1_000
# A new version may start this long ago at most (a form sent a minute after it was filled).
PAST_SLACK = timedelta(minutes=5)
DONE = {
    "created": N_("Price list version %(version)s is saved. Terminals take it at their next pull."),
    "price-set": N_("The dealer's price is saved."),
    "price-removed": N_("The dealer's own price is removed: the price list's applies again."),
    "caps-set": N_("The dealer's override caps are saved."),
    "caps-cleared": N_("The dealer works under its price list's override caps again."),
    "grade-saved": N_("The prices of grade %(code)s are saved."),
}


def _notice(request: Request, done: str, **params: object) -> str | None:
    if done not in DONE:
        return None
    return gettext_of(request)(DONE[done]) % {k: str(v)[:36] for k, v in params.items()}


def _yuan_text(fen: int | None) -> str:
    """An amount as a form field shows it: 12.50, no symbol; blank for none."""
    return "" if fen is None else format_fen(fen, symbol="")


def _fen(
    _: Translate, text: str, errors: dict[str, str], name: str, *, required: bool = True
) -> int | None:
    """A typed yuan amount in fen, or None with the field's error noted."""
    text = text.strip()
    if not text:
        if required:
            errors[name] = _("Required.")
        return None
    try:
        if len(text) > 16:
            raise MoneyError(text, "too long")
        fen = parse_yuan(text)
    except MoneyError:
        errors[name] = _("Not an amount in yuan, e.g. 12.50.")
        return None
    if fen < 0:
        errors[name] = _("Cannot be negative.")
    elif fen > INT32_MAX:
        errors[name] = _("Too large.")
    return fen


def _whole(
    _: Translate, text: str, errors: dict[str, str], name: str, top: int, *, required: bool
) -> int | None:
    text = text.strip()
    if not text:
        if required:
            errors[name] = _("Required.")
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 9 or int(text) > top:
        errors[name] = _("A whole number from 0 to %(top)s.") % {"top": top}
        return None
    return int(text)


# --- versions ---------------------------------------------------------------------------------


@router.get("/admin/prices", response_class=HTMLResponse)
def versions_page(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
    after: str = "",
) -> Response:
    start = int(after) if after.isascii() and after.isdigit() and len(after) < 10 else None
    rows, next_after = prices.versions_page(session, start, PAGE_SIZE)
    try:
        in_force = prices.list_in_force(session).version
    except NotFound:
        in_force = None
    return render(
        request,
        "admin/prices.html",
        {
            "rows": rows,
            "next_after": next_after,
            "in_force": in_force,
            "now": datetime.now(UTC),
            "tab": "versions",
        },
    )


@router.get("/admin/prices/versions/{version}", response_class=HTMLResponse)
def version_page(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
    version: str,
    done: str = "",
) -> Response:
    try:
        if not version.isascii() or not version.isdigit() or len(version) > 9:
            raise NotFound(
                N_("There is no price list version %(version)s."), params={"version": version[:12]}
            )
        price_list = prices.get_version(session, int(version))
    except ServiceError as error:
        return refused(request, user, status_of(error), error)
    try:
        in_force = prices.list_in_force(session).version
    except NotFound:
        in_force = None
    return render(
        request,
        "admin/prices_version.html",
        {
            "price_list": price_list,
            "items": prices.price_list_public(session, price_list).prices,
            "caps": prices.caps_of(price_list),
            "in_force": in_force,
            "now": datetime.now(UTC),
            "notice": _notice(request, done, version=price_list.version),
            "tab": "versions",
        },
    )


@dataclass
class PriceRow:
    """A line of the new version's form, as typed."""

    product: str
    retail: str
    dealer: str


@dataclass
class PriceForm:
    """The new version's form as typed: what it would create, or what is wrong with it."""

    rows: list[PriceRow]
    effective_from: str = ""
    note: str = ""
    max_discount: str = ""
    max_discount_percent: str = ""
    max_markup: str = ""
    offline_max: str = ""

    def fields(self) -> list[tuple[str, str]]:
        """The form as hidden fields, for the confirmation to send it again."""
        pairs = [
            (name, getattr(self, name))
            for name in (
                "effective_from",
                "note",
                "max_discount",
                "max_discount_percent",
                "max_markup",
                "offline_max",
            )
        ]
        for row in self.rows:
            pairs += [("product", row.product), ("retail", row.retail), ("dealer", row.dealer)]
        return pairs


def _form_of(price_list: PriceList | None, items: list[PriceIn]) -> PriceForm:
    """The form for a new version, filled in from the newest one."""
    caps = prices.caps_of(price_list) if price_list else OverrideCaps()
    return PriceForm(
        rows=[
            PriceRow(i.product, _yuan_text(i.retail_fen), _yuan_text(i.dealer_fen)) for i in items
        ],
        max_discount=_yuan_text(caps.max_discount_fen),
        max_discount_percent=""
        if caps.max_discount_percent is None
        else str(caps.max_discount_percent),
        max_markup=_yuan_text(caps.max_markup_fen),
        offline_max=_yuan_text(caps.offline_max_fen),
    )


def _newest(session: Session) -> PriceList | None:
    rows, _ = prices.versions_page(session, None, 1)
    return rows[0][0] if rows else None


def _check(
    _: Translate, form: PriceForm, errors: dict[str, str], row_errors: dict[int, str]
) -> PriceListCreate | None:
    """The request the form makes, or None with every error noted beside its field (or
    row)."""
    effective_from = None
    if form.effective_from.strip():
        try:
            typed = datetime.fromisoformat(form.effective_from.strip()[:32])
            if typed.tzinfo is not None or not 1970 <= typed.year <= 9000:
                raise ValueError("a local time of a year the office can hold")
            effective_from = typed.replace(tzinfo=OFFICE_ZONE).astimezone(UTC)
            if effective_from < datetime.now(UTC) - PAST_SLACK:
                errors["effective_from"] = _("A new version cannot start in the past.")
        except ValueError:
            errors["effective_from"] = _("Not a date and time: use the picker.")
    if len(form.note) > 255:
        errors["note"] = _("At most %(n)s characters.") % {"n": 255}
    elif "\x00" in form.note:
        errors["note"] = _("Control characters are not allowed here.")
    caps = {
        "max_discount_fen": _fen(_, form.max_discount, errors, "max_discount", required=False),
        "max_discount_percent": _whole(
            _, form.max_discount_percent, errors, "max_discount_percent", 100, required=False
        ),
        "max_markup_fen": _fen(_, form.max_markup, errors, "max_markup", required=False) or 0,
        "offline_max_fen": _fen(_, form.offline_max, errors, "offline_max", required=False) or 0,
    }
    items: list[PriceIn] = []
    seen: set[str] = set()
    for index, row in enumerate(form.rows):
        if not (row.product.strip() or row.retail.strip() or row.dealer.strip()):
            continue
        problems: dict[str, str] = {}
        product = row.product.strip()
        try:
            check_product(product[:40])
            if len(product) > 32:
                raise PricingError(product)
        except PricingError:
            problems["product"] = _(
                "Not a product: number:<grade>, voucher:<face value in fen> or sim_pack."
            )
        retail = _fen(_, row.retail, problems, "retail")
        dealer = _fen(_, row.dealer, problems, "dealer")
        if not problems and product in seen:
            problems["product"] = _("Listed twice.")
        if not problems and dealer is not None and retail is not None and dealer > retail:
            problems["dealer"] = _("The dealer price cannot be above the retail price.")
        seen.add(product)
        if problems:
            row_errors[index] = " ".join(problems.values())
        elif retail is not None and dealer is not None:
            items.append(PriceIn(product=product, retail_fen=retail, dealer_fen=dealer))
    if not items and not row_errors:
        errors["prices"] = _("A price list needs at least one price.")
    elif len(items) > MAX_ITEMS:
        errors["prices"] = _("At most %(n)s prices.") % {"n": MAX_ITEMS}
    if errors or row_errors:
        return None
    return PriceListCreate(
        effective_from=effective_from,
        note=form.note.strip(),
        prices=items,
        override_caps=OverrideCapsIn(**caps),
    )


def _changes(_: Translate, session: Session, request: PriceListCreate) -> list[str]:
    """What the new version changes against the newest one, line by line."""
    newest = _newest(session)
    before = prices.central_prices(session, newest) if newest else {}
    lines = []
    for item in request.prices:
        old = before.get(item.product)
        shown = f"{format_fen(item.retail_fen)} / {format_fen(item.dealer_fen)}"
        if old is None:
            lines.append(
                _("New: %(product)s at %(prices)s") % {"product": item.product, "prices": shown}
            )
        elif (old.retail_fen, old.dealer_fen) != (item.retail_fen, item.dealer_fen):
            was = f"{format_fen(old.retail_fen)} / {format_fen(old.dealer_fen)}"
            lines.append(
                _("Changed: %(product)s from %(was)s to %(prices)s")
                % {"product": item.product, "was": was, "prices": shown}
            )
    kept = {item.product for item in request.prices}
    for product in sorted(set(before) - kept):
        lines.append(_("Removed: %(product)s") % {"product": product})
    caps = request.override_caps
    if newest is not None and caps and caps.model_dump() != prices.caps_of(newest).model_dump():
        lines.append(_("The default override caps change."))
    if not lines:
        lines.append(
            _("The prices are the same as version %(version)s.")
            % {"version": newest.version if newest else 0}
        )
    return lines


def _new_form_page(
    request: Request,
    form: PriceForm,
    errors: dict[str, str] | None = None,
    row_errors: dict[int, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    blank = PriceRow("", "", "")
    while len(form.rows) < MAX_ITEMS and form.rows[-BLANK_ROWS:].count(blank) < BLANK_ROWS:
        form.rows.append(PriceRow("", "", ""))
    return render(
        request,
        "admin/prices_new.html",
        {
            "form": form,
            "errors": errors or {},
            "row_errors": row_errors or {},
            "tab": "versions",
        },
        status_code=status_code,
    )


@router.get("/admin/prices/new", response_class=HTMLResponse)
def new_version_page(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
) -> Response:
    newest = _newest(session)
    items = prices.price_list_public(session, newest).prices if newest else []
    return _new_form_page(request, _form_of(newest, items))


@router.post("/admin/prices/new", response_class=HTMLResponse, dependencies=[CsrfChecked])
def new_version(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
    product: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    retail: Annotated[list[str], Form()] = [],  # noqa: B006
    dealer: Annotated[list[str], Form()] = [],  # noqa: B006
    effective_from: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    max_discount: Annotated[str, Form()] = "",
    max_discount_percent: Annotated[str, Form()] = "",
    max_markup: Annotated[str, Form()] = "",
    offline_max: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
    edit: Annotated[str, Form()] = "",
) -> Response:
    _ = gettext_of(request)
    count = max(len(product), len(retail), len(dealer))
    if count > MAX_ITEMS + BLANK_ROWS:
        product, retail, dealer = (
            product[: MAX_ITEMS + 1],
            retail[: MAX_ITEMS + 1],
            dealer[: MAX_ITEMS + 1],
        )
        count = MAX_ITEMS + 1
    padded = [(values + [""] * count)[:count] for values in (product, retail, dealer)]
    form = PriceForm(
        rows=[PriceRow(p, r, d) for p, r, d in zip(*padded, strict=True)],
        effective_from=effective_from,
        note=note,
        max_discount=max_discount,
        max_discount_percent=max_discount_percent,
        max_markup=max_markup,
        offline_max=offline_max,
    )
    if edit == "yes":
        return _new_form_page(request, form)
    errors: dict[str, str] = {}
    row_errors: dict[int, str] = {}
    wanted = _check(_, form, errors, row_errors)
    if wanted is None:
        return _new_form_page(request, form, errors, row_errors, 422)
    version = prices.next_version(session)
    if confirmed != "yes":
        starts = (
            wanted.effective_from.astimezone(OFFICE_ZONE).strftime("%Y-%m-%d %H:%M")
            if wanted.effective_from
            else _("now")
        )
        return render(
            request,
            "admin/prices_confirm.html",
            {
                "title": _("Create price list version %(version)s?") % {"version": version},
                "message": _(
                    "Version %(version)s with %(count)s prices takes effect from %(start)s. "
                    "Terminals take it at their next pull; a terminal that has not pulled it "
                    "yet may still sell at the old prices for %(hours)s hours."
                )
                % {
                    "version": version,
                    "count": len(wanted.prices),
                    "start": starts,
                    "hours": settings.price_list_grace_hours,
                },
                "details": _changes(_, session, wanted),
                "action": "/admin/prices/new",
                "fields": form.fields(),
                "button": _("Create version %(version)s") % {"version": version},
                "back": "/admin/prices",
                "tab": "versions",
            },
        )
    try:
        created = prices.create_price_list(session, wanted, user.username)
    except ServiceError as error:
        errors["prices"] = error_text(request, error)
        return _new_form_page(request, form, errors, row_errors, status_of(error))
    return RedirectResponse(
        f"/admin/prices/versions/{created.version}?done=created", status.HTTP_303_SEE_OTHER
    )


# --- a dealer's own prices and caps -------------------------------------------------------------


def _dealer_page(
    request: Request,
    session: Session,
    dealer: Dealer | None,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    context: dict[str, object] = {
        "dealers": dealers.list_dealers(session),
        # Not "dealer": the frame shows the dealer of dealer staff under that name.
        "chosen": dealer,
        "errors": errors or {},
        "typed": typed or {},
        "notice": notice,
        "tab": "dealers",
    }
    if dealer is not None:
        try:
            price_list: PriceList | None = prices.list_in_force(session)
        except NotFound:
            price_list = None
        central = prices.central_prices(session, price_list) if price_list else {}
        own = prices.dealer_overrides(session, dealer.id)
        caps = prices.dealer_caps(session, dealer.id)
        shown = caps or (prices.caps_of(price_list) if price_list else None)
        if shown is not None:
            # The caps form starts from the caps in effect; what was typed stays.
            percent = shown.max_discount_percent
            context["typed"] = {
                "max_discount": _yuan_text(shown.max_discount_fen),
                "max_discount_percent": "" if percent is None else str(percent),
                "max_markup": _yuan_text(shown.max_markup_fen),
                "offline_max": _yuan_text(shown.offline_max_fen),
            } | (typed or {})
        context |= {
            "price_list": price_list,
            "products": sorted(set(central) | set(own)),
            "central": central,
            "own": own,
            "own_caps": caps,
            "caps": shown,
        }
    return render(request, "admin/prices_dealers.html", context, status_code=status_code)


def _find_dealer(session: Session, key: str) -> Dealer:
    if not key or len(key) > 36:
        raise NotFound(N_("There is no dealer %(dealer)s."), params={"dealer": key[:36]})
    try:
        return dealers.find_dealer(session, key)
    except NotFound:
        raise NotFound(N_("There is no dealer %(dealer)s."), params={"dealer": key}) from None


def _back_to(dealer: Dealer, done: str) -> RedirectResponse:
    return RedirectResponse(
        f"/admin/prices/dealers?dealer={dealer.code}&done={done}", status.HTTP_303_SEE_OTHER
    )


@router.get("/admin/prices/dealers", response_class=HTMLResponse)
def dealer_prices_page(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
    dealer: str = "",
    done: str = "",
) -> Response:
    chosen = None
    if dealer:
        try:
            chosen = _find_dealer(session, dealer)
        except ServiceError as error:
            return _dealer_page(
                request, session, None, {"dealer": error_text(request, error)}, status_code=404
            )
    return _dealer_page(request, session, chosen, notice=_notice(request, done))


@router.post(
    "/admin/prices/dealers/{dealer}/prices", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
def set_dealer_price(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
    dealer: str,
    product: Annotated[str, Form()] = "",
    retail: Annotated[str, Form()] = "",
    dealer_price: Annotated[str, Form()] = "",
) -> Response:
    _ = gettext_of(request)
    try:
        chosen = _find_dealer(session, dealer)
    except ServiceError as error:
        return refused(request, user, status_of(error), error)
    errors: dict[str, str] = {}
    product = product.strip()
    try:
        check_product(product[:40])
        if len(product) > 32:
            raise PricingError(product)
    except PricingError:
        errors["product"] = _(
            "Not a product: number:<grade>, voucher:<face value in fen> or sim_pack."
        )
    retail_fen = _fen(_, retail, errors, "retail")
    dealer_fen = _fen(_, dealer_price, errors, "dealer_price")
    if not errors and dealer_fen is not None and retail_fen is not None and dealer_fen > retail_fen:
        errors["dealer_price"] = _("The dealer price cannot be above the retail price.")
    typed = {"product": product, "retail": retail, "dealer_price": dealer_price}
    if errors or retail_fen is None or dealer_fen is None:
        return _dealer_page(request, session, chosen, errors, typed, status_code=422)
    try:
        prices.set_dealer_price(
            session,
            chosen.id,
            PriceIn(product=product, retail_fen=retail_fen, dealer_fen=dealer_fen),
            user.username,
        )
    except ServiceError as error:
        errors["product"] = error_text(request, error)
        return _dealer_page(request, session, chosen, errors, typed, status_code=status_of(error))
    return _back_to(chosen, "price-set")


@router.post(
    "/admin/prices/dealers/{dealer}/prices/remove",
    response_class=HTMLResponse,
    dependencies=[CsrfChecked],
)
def remove_dealer_price(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
    dealer: str,
    product: Annotated[str, Form()] = "",
) -> Response:
    try:
        chosen = _find_dealer(session, dealer)
        prices.remove_dealer_price(session, chosen.id, product[:40], user.username)
    except ServiceError as error:
        return refused(request, user, status_of(error), error)
    return _back_to(chosen, "price-removed")


@router.post(
    "/admin/prices/dealers/{dealer}/caps", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
def set_dealer_caps(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
    dealer: str,
    max_discount: Annotated[str, Form()] = "",
    max_discount_percent: Annotated[str, Form()] = "",
    max_markup: Annotated[str, Form()] = "",
    offline_max: Annotated[str, Form()] = "",
    clear: Annotated[str, Form()] = "",
) -> Response:
    _ = gettext_of(request)
    try:
        chosen = _find_dealer(session, dealer)
    except ServiceError as error:
        return refused(request, user, status_of(error), error)
    if clear == "yes":
        prices.set_dealer_caps(session, chosen.id, None, user.username)
        return _back_to(chosen, "caps-cleared")
    errors: dict[str, str] = {}
    values = {
        "max_discount_fen": _fen(_, max_discount, errors, "max_discount", required=False),
        "max_discount_percent": _whole(
            _, max_discount_percent, errors, "max_discount_percent", 100, required=False
        ),
        "max_markup_fen": _fen(_, max_markup, errors, "max_markup", required=False) or 0,
        "offline_max_fen": _fen(_, offline_max, errors, "offline_max", required=False) or 0,
    }
    if errors:
        typed = {
            "max_discount": max_discount,
            "max_discount_percent": max_discount_percent,
            "max_markup": max_markup,
            "offline_max": offline_max,
        }
        return _dealer_page(request, session, chosen, errors, typed, status_code=422)
    prices.set_dealer_caps(session, chosen.id, OverrideCapsIn(**values), user.username)
    return _back_to(chosen, "caps-set")


# --- grades ------------------------------------------------------------------------------------


def _grades_page(
    request: Request,
    session: Session,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    return render(
        request,
        "admin/prices_grades.html",
        {
            "grades": grading.list_grades(session),
            "errors": errors or {},
            "typed": typed or {},
            "notice": notice,
            "yuan_text": _yuan_text,
            "tab": "grades",
        },
        status_code=status_code,
    )


@router.get("/admin/prices/grades", response_class=HTMLResponse)
def grades_page(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
    done: str = "",
    code: str = "",
) -> Response:
    return _grades_page(request, session, notice=_notice(request, done, code=code))


@router.post("/admin/prices/grades/{code}", response_class=HTMLResponse, dependencies=[CsrfChecked])
def save_grade(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
    code: str,
    name: Annotated[str, Form()] = "",
    selection_fee: Annotated[str, Form()] = "",
    prestore: Annotated[str, Form()] = "",
    min_monthly: Annotated[str, Form()] = "",
    lockin_months: Annotated[str, Form()] = "",
) -> Response:
    _ = gettext_of(request)
    errors: dict[str, str] = {}
    name = name.strip()
    if not name:
        errors["name"] = _("Required.")
    elif len(name) > 64:
        errors["name"] = _("At most %(n)s characters.") % {"n": 64}
    elif "\x00" in name:
        errors["name"] = _("Control characters are not allowed here.")
    change = {
        "selection_fee_fen": _fen(_, selection_fee, errors, "selection_fee"),
        "prestore_fen": _fen(_, prestore, errors, "prestore"),
        "min_monthly_fen": _fen(_, min_monthly, errors, "min_monthly"),
        "lockin_months": _whole(_, lockin_months, errors, "lockin_months", 120, required=True),
    }
    typed = {
        "name": name,
        "selection_fee": selection_fee,
        "prestore": prestore,
        "min_monthly": min_monthly,
        "lockin_months": lockin_months,
    }
    if errors:
        return _grades_page(
            request,
            session,
            {f"{code[:16]}.{k}": v for k, v in errors.items()},
            {f"{code[:16]}.{k}": v for k, v in typed.items()},
            status_code=422,
        )
    try:
        grading.update_grade(session, code[:16], GradeUpdate(name=name, **change), user.username)
    except ServiceError as error:
        return refused(request, user, status_of(error), error)
    return RedirectResponse(
        f"/admin/prices/grades?done=grade-saved&code={code[:16]}", status.HTTP_303_SEE_OTHER
    )
