"""The frame every web page shares: templates in the reader's language, the menu of the
user's role, who is logged in, the log-in redirect, the page a role may not open, links that
keep a list's filters, and the CSRF protection of every form that changes something."""

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, Form, Request, status
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from sqlmodel import Session

from backoffice.api.deps import SESSION_COOKIE, SessionDep, SettingsDep, user_of_token
from backoffice.core import i18n
from backoffice.core.config import Settings
from backoffice.core.i18n import N_
from backoffice.core.security import csrf_token, csrf_token_matches, token_id
from backoffice.domain.users import Role, allows
from backoffice.models import Dealer, User
from backoffice.services.errors import ServiceError
from shared.money import format_fen

STATIC_DIR = Path(__file__).parent.with_name("static")
templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(Path(__file__).parent.with_name("templates")),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
)
templates.env.filters["yuan"] = format_fen
templates.env.filters["percent"] = lambda rate: "–" if rate is None else f"{rate * 100:.1f}%"
# The office reads times as China time; they are stored in UTC.
OFFICE_ZONE = ZoneInfo("Asia/Shanghai")
templates.env.filters["office_time"] = lambda at: (
    "" if at is None else f"{at.astimezone(OFFICE_ZONE):%Y-%m-%d %H:%M:%S}"
)

ROLE_NAMES = {
    Role.admin: N_("System administrator"),
    Role.billing: N_("Billing clerk"),
    Role.manager: N_("Manager"),
    Role.sales_centre: N_("Sales centre"),
    Role.dealer_manager: N_("Dealer manager"),
    Role.clerk: N_("Counter clerk"),
}
# The lifecycle statuses, as status badges name them (`{{ status(value) }}` in macros.html).
STATUS_NAMES = (
    N_("imported"),
    N_("available"),
    N_("allocated"),
    N_("in_stock"),
    N_("reserved"),
    N_("sold"),
    N_("active"),
    N_("cooling"),
    N_("frozen"),
    N_("in_warehouse"),
    N_("damaged"),
    N_("lost"),
    N_("generated"),
    N_("redeemed"),
    N_("expired"),
    N_("voided"),
)
CSRF_FIELD = "csrf_token"
# Before log-in there is no session to bind a form to: the log-in page sets this nonce.
LOGIN_NONCE_COOKIE = "haoka_login_nonce"
LANGUAGE_COOKIE = "haoka_lang"


# --- Language ---------------------------------------------------------------------------------


def language_of(request: Request) -> str:
    """The reader's language: the switch's cookie, else Chinese."""
    return i18n.language(request.cookies.get(LANGUAGE_COOKIE))


def gettext_of(request: Request) -> i18n.Translate:
    """`_` for a page's Python code: messages in the reader's language."""
    return i18n.translator(language_of(request))


@pass_context
def _gettext(context: Context, message: str) -> str:
    return i18n.gettext(language_of(context["request"]), message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return i18n.ngettext(language_of(context["request"]), singular, plural, n)


templates.env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]


def error_text(request: Request, error: ServiceError) -> str:
    """A use case's refusal in the reader's language (catalog messages are; others show as
    the service wrote them)."""
    message = i18n.gettext(language_of(request), error.message)
    return message % error.params if error.params else message


# --- Who is logged in, and what their role may open ---------------------------------------------


@dataclass(frozen=True)
class MenuItem:
    label: str  # a catalog message
    href: str
    roles: frozenset[Role]


@dataclass(frozen=True)
class MenuSection:
    label: str
    items: tuple[MenuItem, ...]


# The roles of each part of the office; admins may open everything (domain.users.allows).
BILLING_PAGES = frozenset({Role.billing})
ADMIN_PAGES: frozenset[Role] = frozenset()
DASHBOARD_PAGES = frozenset({Role.manager, Role.sales_centre, Role.dealer_manager})
# The sales centre's pages; some also open for a dealer manager, scoped to their own dealer.
CHANNEL_PAGES = frozenset({Role.sales_centre})
CHANNEL_AND_DEALER_PAGES = frozenset({Role.sales_centre, Role.dealer_manager})
DEALER_PAGES = frozenset({Role.dealer_manager})
EVERYONE = frozenset(Role)

MENU: tuple[MenuSection, ...] = (
    MenuSection(
        N_("Statistics"),
        (
            MenuItem(N_("Sales dashboard"), "/dashboard", DASHBOARD_PAGES),
            MenuItem(N_("Sales"), "/statistics/sales", DASHBOARD_PAGES),
            MenuItem(N_("Rankings"), "/statistics/rankings", DASHBOARD_PAGES),
            MenuItem(N_("Stock and ageing"), "/statistics/stock", DASHBOARD_PAGES),
            MenuItem(N_("Sell-through"), "/statistics/sell-through", DASHBOARD_PAGES),
            MenuItem(N_("Top-up cards"), "/statistics/vouchers", DASHBOARD_PAGES),
            MenuItem(N_("Shifts and cash"), "/statistics/shifts", DASHBOARD_PAGES),
        ),
    ),
    MenuSection(N_("My dealer"), (MenuItem(N_("My dealer"), "/my", DEALER_PAGES),)),
    MenuSection(
        N_("Sales centre"),
        (
            MenuItem(N_("Dealers"), "/channel/dealers", CHANNEL_PAGES),
            MenuItem(N_("Outlets"), "/channel/outlets", CHANNEL_PAGES),
            MenuItem(N_("Allocation"), "/channel/allocations", CHANNEL_PAGES),
            MenuItem(N_("Stock documents"), "/channel/documents", CHANNEL_PAGES),
            MenuItem(N_("Discrepancies"), "/channel/discrepancies", CHANNEL_PAGES),
            MenuItem(
                N_("Reconciliation queue"), "/channel/reconciliation", CHANNEL_AND_DEALER_PAGES
            ),
        ),
    ),
    MenuSection(
        N_("Settlement"),
        (
            MenuItem(N_("Settlement runs"), "/settlement/runs", CHANNEL_PAGES),
            MenuItem(N_("Statements"), "/settlement/statements", CHANNEL_AND_DEALER_PAGES),
            MenuItem(N_("Revenue feed"), "/settlement/revenue", CHANNEL_PAGES),
        ),
    ),
    MenuSection(
        N_("Billing centre"),
        (
            MenuItem(N_("Segments and batches"), "/billing/batches", BILLING_PAGES),
            MenuItem(N_("Imports"), "/billing/imports", BILLING_PAGES),
            MenuItem(N_("Numbers"), "/billing/numbers", BILLING_PAGES),
            MenuItem(N_("SIM pairing"), "/billing/pairing", BILLING_PAGES),
            MenuItem(N_("Releases"), "/billing/releases", BILLING_PAGES),
            MenuItem(N_("Top-up cards"), "/billing/vouchers", BILLING_PAGES),
            MenuItem(N_("Grading rules"), "/billing/grading", BILLING_PAGES),
        ),
    ),
    MenuSection(
        N_("Administration"),
        (
            MenuItem(N_("Users"), "/admin/users", ADMIN_PAGES),
            MenuItem(N_("Terminals"), "/admin/terminals", ADMIN_PAGES),
            MenuItem(N_("Price lists"), "/admin/prices", ADMIN_PAGES),
            MenuItem(N_("Audit log"), "/admin/audit", ADMIN_PAGES),
            MenuItem(N_("Activation outbox"), "/admin/outbox", ADMIN_PAGES),
            MenuItem(N_("Configuration"), "/admin/config", ADMIN_PAGES),
        ),
    ),
    MenuSection(
        N_("Help"),
        (
            MenuItem(N_("Background jobs"), "/jobs", EVERYONE),
            MenuItem(N_("API documentation"), "/docs", EVERYONE),
        ),
    ),
)


def menu_of(user: User | None) -> list[MenuSection]:
    """The sections and items the user's role may open; nothing else is shown."""
    if user is None:
        return []
    role = Role(user.role)
    sections = []
    for section in MENU:
        items = tuple(item for item in section.items if allows(role, item.roles))
        if items:
            sections.append(MenuSection(section.label, items))
    return sections


def home_of(user: User) -> str:
    """Where a user lands after log-in: the first page of their menu."""
    return next((s.items[0].href for s in menu_of(user)), "/jobs")


def role_name(user: User | None) -> str:
    return "" if user is None else ROLE_NAMES.get(Role(user.role), user.role)


class LoginNeeded(Exception):
    """The page needs a logged-in user and there is none (or the session has ended)."""


class PageForbidden(Exception):
    """The user's role may not open the page."""

    def __init__(self, user: User) -> None:
        super().__init__(user.username)
        self.user = user


def _page_user(allowed: frozenset[Role]):  # type: ignore[no-untyped-def]
    def dependency(request: Request, session: SessionDep, settings: SettingsDep) -> User:
        user = user_of_token(session, settings, request.cookies.get(SESSION_COOKIE))
        if user is None:
            raise LoginNeeded()
        request.state.user = user
        request.state.dealer = _dealer_of(session, user)
        if not allows(Role(user.role), allowed):
            raise PageForbidden(user)
        return user

    return dependency


def page_user(allowed: frozenset[Role]) -> Any:
    """`user: Annotated[User, page_user(BILLING_PAGES)]`: the logged-in user of a role that
    may open the page; otherwise the log-in page, or the 403 page."""
    return Depends(_page_user(allowed))


def _dealer_of(session: Session, user: User) -> Dealer | None:
    return None if user.dealer_id is None else session.get(Dealer, user.dealer_id)


def safe_next(target: str) -> str:
    """Only a path of this site: never another host (an open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status.HTTP_303_SEE_OTHER)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    """A page inside the frame: the menu of the user's role, who is logged in (and the dealer
    of dealer staff), the language switch."""
    user: User | None = getattr(request.state, "user", None)
    frame = {
        "user": user,
        "role": role_name(user),
        "own_dealer": getattr(request.state, "dealer", None),
        "menu": menu_of(user),
        "lang": language_of(request),
        "languages": i18n.LANGUAGE_NAMES,
        "here": request.url.path,
        "here_full": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    return templates.TemplateResponse(
        request, template, {**frame, **(context or {})}, status_code=status_code
    )


def refused(
    request: Request, user: User, status_code: int, error: ServiceError | None = None
) -> Response:
    """The page a user sees where the role may not go, or the request was refused."""
    request.state.user = user
    return render(
        request,
        "forbidden.html",
        {"error": None if error is None else error_text(request, error)},
        status_code=status_code,
    )


_ERROR_TITLES = {
    status.HTTP_404_NOT_FOUND: N_("Not found"),
    status.HTTP_405_METHOD_NOT_ALLOWED: N_("Not found"),
    status.HTTP_409_CONFLICT: N_("Not possible now"),
    status.HTTP_422_UNPROCESSABLE_CONTENT: N_("Please check what was entered"),
}


def error_page(request: Request, status_code: int, error: str | ServiceError) -> Response:
    """The page of an error a page route did not handle itself (api/errors.py calls it for
    every path that is not the API's): in the frame, if the browser is logged in."""
    if getattr(request.state, "user", None) is None:
        settings: Settings = request.app.state.settings
        with Session(request.app.state.engine) as session:
            user = user_of_token(session, settings, request.cookies.get(SESSION_COOKIE))
            request.state.user = user
            request.state.dealer = None if user is None else _dealer_of(session, user)
    _ = gettext_of(request)
    if isinstance(error, ServiceError):
        message = error_text(request, error)
    elif status_code in (status.HTTP_404_NOT_FOUND, status.HTTP_405_METHOD_NOT_ALLOWED):
        message = _("There is no such page. Check the address, or use the menu.")
    else:
        message = error
    title = _ERROR_TITLES.get(status_code, N_("Something went wrong"))
    referer = request.headers.get("referer", "")
    back = referer if referer.startswith(f"{request.url.scheme}://{request.url.netloc}/") else "/"
    return render(
        request,
        "error.html",
        {"title": _(title), "message": message, "back": back},
        status_code=status_code,
    )


def login_needed(request: Request, exc: Exception) -> Response:
    return to_login(request)


def page_forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageForbidden)
    return refused(request, exc.user, status.HTTP_403_FORBIDDEN)


def url_with(request: Request, **changes: object) -> str:
    """This page's address with some query parameters changed (None or "" removes one): the
    filters stay in the URL, so a list can be bookmarked and shared."""
    query = {k: v for k, v in request.query_params.items()}
    for key, value in changes.items():
        if value is None or value == "":
            query.pop(key, None)
        else:
            query[key] = str(value)
    return request.url.path + (f"?{urlencode(query)}" if query else "")


templates.env.globals["url_with"] = pass_context(
    lambda context, **changes: url_with(context["request"], **changes)
)


# --- CSRF -----------------------------------------------------------------------------------


class CsrfRejected(Exception):
    """A form post that did not come from this site's own page (or from a page too old)."""


def _binding(request: Request, settings: Settings) -> str | None:
    """What this browser's form tokens are bound to: its session, else its log-in nonce."""
    session_id = token_id(request.cookies.get(SESSION_COOKIE), settings)
    if session_id is not None:
        return f"session:{session_id}"
    nonce = getattr(request.state, "login_nonce", None) or request.cookies.get(LOGIN_NONCE_COOKIE)
    return f"login:{nonce}" if nonce else None


def login_nonce(request: Request) -> str | None:
    """For the log-in page: a nonce to bind its form to, new (to set as a cookie) or None
    when the browser has one already."""
    if request.cookies.get(LOGIN_NONCE_COOKIE):
        return None
    request.state.login_nonce = secrets.token_urlsafe(32)
    return request.state.login_nonce


def set_login_nonce(request: Request, reply: Response, nonce: str | None) -> Response:
    if nonce is not None:
        reply.set_cookie(
            LOGIN_NONCE_COOKIE,
            nonce,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return reply


@pass_context
def csrf_field(context: Context) -> Markup:
    """`{{ csrf_field() }}` inside every form that posts: the hidden token field."""
    request: Request = context["request"]
    settings: Settings = request.app.state.settings
    binding = _binding(request, settings)
    token = csrf_token(binding, settings) if binding else ""
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


templates.env.globals["csrf_field"] = csrf_field


def _own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _same_origin(request: Request) -> bool:
    """Strict: the browser's Origin must be this site; without one, the Referer must be a
    page of this site; with neither, the post is refused."""
    own = _own_origin(request)
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == own
    referer = request.headers.get("referer")
    return referer is not None and (referer == own or referer.startswith(own + "/"))


def check_csrf(
    request: Request,
    settings: SettingsDep,
    sent: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> None:
    """The dependency of every page route that changes something: same origin, and the form's
    token made for this browser's session (or log-in nonce)."""
    if not _same_origin(request):
        raise CsrfRejected("the form was not sent from this site")
    binding = _binding(request, settings)
    if binding is None or not csrf_token_matches(sent, binding, settings):
        raise CsrfRejected("the form has expired or was not made by this site")


CsrfChecked = Depends(check_csrf)


def csrf_rejected(request: Request, exc: Exception) -> Response:
    """403 with a page that says what to do (reload and send again)."""
    return templates.TemplateResponse(
        request, "csrf.html", {"reason": str(exc)}, status_code=status.HTTP_403_FORBIDDEN
    )
