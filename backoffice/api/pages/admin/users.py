"""The administrators' pages of users and terminals (系统管理员): the users list, a new user, a
user's page (role, dealer and outlet; password reset; counter PIN; deactivation, which ends
the user's sessions at once), and the terminals (list with what the office last heard from
each, registration with the device credential shown once, also as a QR code, revocation)."""

import base64
import hashlib
import hmac
import io
import re
from dataclasses import dataclass, field
from typing import Annotated

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Form, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from backoffice.api.deps import SESSION_COOKIE, SessionDep, SettingsDep
from backoffice.api.pages.frame import (
    ADMIN_PAGES,
    ROLE_NAMES,
    CsrfChecked,
    error_text,
    gettext_of,
    page_user,
    render,
)
from backoffice.contracts.channel import StaffCreate, TerminalCreate
from backoffice.contracts.users import UserCreate
from backoffice.core.crypto import Cipher
from backoffice.core.i18n import N_
from backoffice.core.security import token_id, token_key
from backoffice.domain.channel import TerminalStatus
from backoffice.domain.users import PASSWORD_MIN_LENGTH, PIN_PATTERN, PIN_ROLES, Role
from backoffice.models import Dealer, Outlet, User
from backoffice.services import audit, users
from backoffice.services.channel import dealers
from backoffice.services.errors import NotFound, ServiceError

router = APIRouter(include_in_schema=False)
AdminUser = Annotated[User, page_user(ADMIN_PAGES)]
PAGE = 50

# Every role an admin may give, in the order the forms offer them.
ROLE_LABELS: dict[Role, str] = {
    **ROLE_NAMES,
    Role.charging: N_("Charging system (account)"),
    Role.provisioning: N_("Provisioning system (account)"),
}
ROLES = (
    Role.admin,
    Role.billing,
    Role.sales_centre,
    Role.manager,
    Role.dealer_manager,
    Role.clerk,
    Role.charging,
    Role.provisioning,
)
# Badge words of these pages the frame does not name.
STATUS_WORDS = (N_("revoked"),)
# What the audit rows of a user or terminal say, as the history shows it.
ACTIONS = {
    "create": N_("created"),
    "assign": N_("role, dealer or outlet changed"),
    "deactivate": N_("deactivated"),
    "reactivate": N_("reactivated"),
    "password_reset": N_("password reset by an administrator"),
    "password_change": N_("password changed by the user"),
    "pin_set": N_("PIN set"),
    "pin_change": N_("PIN changed by the user"),
    "register": N_("registered"),
    "revoke": N_("revoked"),
}
# After a change, the page it redirects to says what was done (a fixed message per key: the
# URL never carries text to show).
DONE = {
    "created": N_("The user was created."),
    "assigned": N_(
        "The role, dealer and outlet were saved. A new role or dealer ends the user's sessions."
    ),
    "password": N_("The password was reset; the user's sessions have ended."),
    "pin": N_("The PIN was set; the terminals take it at their next pull."),
    "deactivated": N_(
        "The user was deactivated: their sessions have ended and they can no longer log in."
    ),
    "reactivated": N_("The user was reactivated and may log in again."),
    "revoked": N_("The terminal was revoked: the office refuses its credential from now on."),
}
# The use cases' refusals, by code: the field they concern (None: above the forms) and what
# the page says (None: the use case's own message, a catalog message).
REFUSALS: dict[str, tuple[str | None, str | None]] = {
    "username_taken": ("username", N_("This username is taken.")),
    "user_not_found": (None, N_("There is no such user.")),
    "dealer_not_found": ("dealer", N_("There is no such dealer.")),
    "outlet_not_found": ("outlet", N_("The dealer has no such outlet.")),
    "dealer_not_active": ("outlet", N_("The outlet's dealer is not active.")),
    # The use cases' own catalog messages, put beside the field.
    "dealer_required": ("dealer", None),
    "not_dealer_staff": ("dealer", None),
    "unchanged": ("role", None),
    "cannot_change_own_role": ("role", None),
    "cannot_deactivate_self": (None, N_("You cannot deactivate yourself.")),
    "user_already_active": (None, N_("The user is active already.")),
    "user_already_inactive": (None, N_("The user is inactive already.")),
    "no_pin": (None, N_("Only dealer staff (counter clerks, dealer managers) have a PIN.")),
    "invalid_pin": ("pin", N_("A PIN is 4 to 8 digits.")),
    "terminal_not_found": (None, N_("There is no such terminal.")),
    "revoked": (None, N_("The terminal is revoked already.")),
}
PASSWORD_MAX_LENGTH = 128
USERNAME = re.compile(r"[A-Za-z0-9_.-]{3,64}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# --- forms ----------------------------------------------------------------------------------


@dataclass
class Checked:
    """A form's values and the error of each field found wrong: a message to translate where
    shown, and its parameters."""

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

    def password(self, username: str, password: str, repeat: str) -> None:
        """The password rules (domain/users.py) and the repetition; never kept to show."""
        if len(password) < PASSWORD_MIN_LENGTH:
            self.fail("password", N_("At least %(n)s characters."), n=PASSWORD_MIN_LENGTH)
        elif len(password) > PASSWORD_MAX_LENGTH:
            self.fail("password", N_("At most %(n)s characters."), n=PASSWORD_MAX_LENGTH)
        elif "\x00" in password:
            self.fail("password", N_("Control characters are not allowed."))
        elif username and username.casefold() in password.casefold():
            self.fail("password", N_("The password may not contain the username."))
        elif password != repeat:
            self.fail("password2", N_("The two passwords differ."))

    def pin(self, pin: str, repeat: str) -> None:
        if not re.fullmatch(PIN_PATTERN, pin):
            self.fail("pin", N_("A PIN is 4 to 8 digits."))
        elif pin != repeat:
            self.fail("pin2", N_("The two PINs differ."))

    def role(self, value: str) -> Role | None:
        self.values["role"] = value
        try:
            return Role(value)
        except ValueError:
            self.fail("role", N_("Choose a role."))
            return None


def _shown(request: Request, checked: Checked | None) -> dict[str, str]:
    """The errors in the reader's language."""
    _ = gettext_of(request)
    errors = {} if checked is None else checked.errors
    return {
        name: _(message) % params if params else _(message)
        for name, (message, params) in errors.items()
    }


def _refusal(request: Request, error: ServiceError, checked: Checked) -> str | None:
    """Puts a use case's refusal beside its field; returns it when it belongs to none."""
    known = REFUSALS.get(error.code)
    if known is None:
        return error_text(request, error)
    name, message = known
    if name is None:
        return gettext_of(request)(message) if message else error_text(request, error)
    checked.fail(name, message or error.message, **(error.params if message is None else {}))
    return None


def _plain(text: str, limit: int) -> str:
    """A filter as typed, within its column's length and without control characters (which
    PostgreSQL refuses in text)."""
    return CONTROL.sub("", text)[:limit].strip()


def _done(request: Request, key: str | None) -> str | None:
    message = DONE.get(key or "")
    return None if message is None else gettext_of(request)(message)


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status.HTTP_303_SEE_OTHER)


def _outlet_groups(session: Session, dealer_code: str = "") -> list[tuple[Dealer, list[Outlet]]]:
    """The outlets by dealer for an outlet menu: only the chosen dealer's, if one is (every
    dealer's otherwise, so that the form works without script too)."""
    all_dealers = dealers.list_dealers(session)
    chosen = [d for d in all_dealers if d.code == dealer_code]
    scope = chosen[0].id if chosen else None
    by_dealer: dict[str, list[Outlet]] = {d.id: [] for d in chosen or all_dealers}
    for outlet in dealers.list_outlets(session, dealer_scope=scope):
        by_dealer[outlet.dealer_id].append(outlet)
    return [(d, by_dealer[d.id]) for d in chosen or all_dealers]


def _roles(request: Request) -> list[tuple[str, str]]:
    _ = gettext_of(request)
    return [(role.value, _(ROLE_LABELS[role])) for role in ROLES]


def _dealer_choices(session: Session) -> list[tuple[str, str]]:
    return [(d.code, f"{d.code} {d.name}") for d in dealers.list_dealers(session)]


# --- the users list -------------------------------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    role: Annotated[str, Query()] = "",
    active: Annotated[str, Query()] = "",
    dealer: Annotated[str, Query()] = "",
    q: Annotated[str, Query()] = "",
    after: Annotated[str, Query()] = "",
) -> Response:
    """Users by username, a keyset page at a time; filters by role, state, dealer and a part
    of the name, all in the URL."""
    codes = {d.code: d for d in dealers.list_dealers(session)}
    wanted_role = Role(role) if role in Role.__members__.values() else None
    found = codes.get(dealer)
    q = _plain(q, 64)
    rows, next_after = users.page_of_users(
        session,
        role=wanted_role,
        active={"yes": True, "no": False}.get(active),
        dealer_id=found.id if found else ("-" if dealer else None),
        search=q,
        after=_plain(after, 64) or None,
        limit=PAGE,
    )
    outlets = dealers.outlets_by_id(session, {u.outlet_id for u in rows if u.outlet_id})
    by_id = {d.id: d for d in codes.values()}
    return render(
        request,
        "admin/users.html",
        {
            "rows": [
                (u, by_id.get(u.dealer_id or ""), outlets.get(u.outlet_id or "")) for u in rows
            ],
            "next_after": next_after,
            "roles": _roles(request),
            "role_labels": {r.value: label for r, label in ROLE_LABELS.items()},
            "dealers": _dealer_choices(session),
            "filters": {"role": role, "active": active, "dealer": dealer, "q": q},
        },
    )


@router.get("/admin/users/new/outlets", response_class=HTMLResponse)
def outlet_menu(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    dealer: Annotated[str, Query()] = "",
) -> Response:
    """The outlet menu of a user form for the dealer chosen (htmx swaps it in)."""
    return render(
        request,
        "admin/users_outlet.html",
        {"groups": _outlet_groups(session, dealer), "value": "", "errors": {}},
    )


# --- a new user -----------------------------------------------------------------------------


def _new_form(
    request: Request,
    session: Session,
    checked: Checked | None = None,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    checked = checked or Checked(values={"role": Role.clerk.value})
    return render(
        request,
        "admin/users_new.html",
        {
            "form": checked.values,
            "errors": _shown(request, checked),
            "error": error,
            "roles": _roles(request),
            "dealers": _dealer_choices(session),
            "groups": _outlet_groups(session, checked.values.get("dealer", "")),
            "password_rule": PASSWORD_MIN_LENGTH,
        },
        status_code=status_code,
    )


@router.get("/admin/users/new", response_class=HTMLResponse)
def new_user_page(request: Request, session: SessionDep, user: AdminUser) -> Response:
    return _new_form(request, session)


@router.post("/admin/users/new", response_class=HTMLResponse, dependencies=[CsrfChecked])
def create_user(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    username: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password2: Annotated[str, Form()] = "",
    dealer: Annotated[str, Form()] = "",
    outlet: Annotated[str, Form()] = "",
    pin: Annotated[str, Form()] = "",
    pin2: Annotated[str, Form()] = "",
) -> Response:
    """Creates a user; dealer staff (counter clerks, dealer managers) with their dealer,
    outlet (none: every outlet of the dealer) and counter PIN."""
    checked = Checked()
    username = checked.text("username", username, 64, required=True)
    if username == "new":
        # /admin/users/new is the form: a user of this name would have no page.
        checked.fail("username", N_("This name is reserved: choose another."))
    if not USERNAME.fullmatch(username):
        checked.fail(
            "username", N_("3 to 64 letters, digits, dots, dashes or underscores (no spaces).")
        )
    full_name = checked.text("full_name", full_name, 128)
    chosen = checked.role(role)
    checked.password(username, password, password2)
    dealer = checked.text("dealer", dealer, 32)
    outlet = checked.text("outlet", outlet, 32)
    staff = chosen in PIN_ROLES
    if staff:
        if not dealer and "dealer" not in checked.errors:
            checked.fail("dealer", N_("Dealer staff belong to a dealer: choose one."))
        checked.pin(pin, pin2)
    elif chosen is not None and (dealer or outlet or pin):
        checked.fail(
            "dealer",
            N_(
                "Only dealer staff (counter clerks, dealer managers) have a dealer, an outlet "
                "and a PIN."
            ),
        )
    if checked.errors or chosen is None:
        return _new_form(request, session, checked, status_code=422)
    try:
        if staff:
            dealers.create_staff(
                session,
                dealer,
                StaffCreate(
                    username=username,
                    password=password,
                    full_name=full_name,
                    role=chosen,  # type: ignore[arg-type]
                    outlet=outlet or None,
                    pin=pin,
                ),
                admin.username,
            )
        else:
            users.create_user(
                session,
                UserCreate(username=username, password=password, role=chosen, full_name=full_name),
                admin.username,
            )
    except ServiceError as error:
        session.rollback()
        general = _refusal(request, error, checked)
        return _new_form(request, session, checked, general, status_code=422)
    except ValidationError:
        return _new_form(request, session, checked, _invalid(request), status_code=422)
    return _see(f"/admin/users/{username}?done=created")


def _invalid(request: Request) -> str:
    return gettext_of(request)("Some values are not valid: check the form.")


# --- a user's page --------------------------------------------------------------------------


def _user_page(
    request: Request,
    session: Session,
    username: str,
    checked: Checked | None = None,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    shown = users.find_user(session, username)
    dealer = None if shown.dealer_id is None else session.get(Dealer, shown.dealer_id)
    outlet = None if shown.outlet_id is None else session.get(Outlet, shown.outlet_id)
    form = {
        "role": shown.role,
        "dealer": dealer.code if dealer else "",
        "outlet": outlet.code if outlet else "",
        "reason": "",
    }
    if checked is not None:
        form |= {k: v for k, v in checked.values.items() if k in form}
    return render(
        request,
        "admin/users_user.html",
        {
            "shown": shown,
            "shown_dealer": dealer,
            "shown_outlet": outlet,
            "role_label": ROLE_LABELS.get(Role(shown.role), shown.role),
            "has_pin": Role(shown.role) in PIN_ROLES and shown.dealer_id is not None,
            "form": form,
            "errors": _shown(request, checked),
            "error": error,
            "notice": _done(request, request.query_params.get("done")),
            "roles": _roles(request),
            "dealers": _dealer_choices(session),
            "groups": _outlet_groups(session, form["dealer"]),
            "password_rule": PASSWORD_MIN_LENGTH,
            "history": audit.entries(session, "user", shown.id, limit=20),
            "actions": ACTIONS,
            "is_self": shown.username == _viewer(request),
        },
        status_code=status_code,
    )


def _viewer(request: Request) -> str:
    viewer: User | None = getattr(request.state, "user", None)
    return "" if viewer is None else viewer.username


UsernamePath = Annotated[str, Path()]


def _found(request: Request, session: Session, username: str) -> Response | None:
    """The 404 page when there is no such user."""
    try:
        # A name the table cannot hold is not looked for (PostgreSQL refuses a NUL in text).
        if len(username) > 64 or CONTROL.search(username):
            raise NotFound("no such user", code="user_not_found")
        users.find_user(session, username)
    except ServiceError as error:
        return _missing(request, error)
    return None


def _missing(request: Request, error: ServiceError) -> Response:
    """The page of a user or terminal that does not exist: 404, saying so."""
    message = _refusal(request, error, Checked()) or error_text(request, error)
    return render(request, "forbidden.html", {"error": message}, status_code=404)


@router.get("/admin/users/{username}", response_class=HTMLResponse)
def user_page(
    request: Request, session: SessionDep, admin: AdminUser, username: UsernamePath
) -> Response:
    return _found(request, session, username) or _user_page(request, session, username)


@router.post(
    "/admin/users/{username}/role", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
def assign_role(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    username: UsernamePath,
    role: Annotated[str, Form()] = "",
    dealer: Annotated[str, Form()] = "",
    outlet: Annotated[str, Form()] = "",
) -> Response:
    """A new role, dealer or outlet; a new role or dealer ends the user's sessions."""
    if (missing := _found(request, session, username)) is not None:
        return missing
    checked = Checked()
    chosen = checked.role(role)
    dealer = checked.text("dealer", dealer, 32)
    outlet = checked.text("outlet", outlet, 32)
    if chosen is not None and not checked.errors:
        try:
            dealers.assign_user(
                session, username, chosen, dealer or None, outlet or None, admin.username
            )
        except ServiceError as error:
            session.rollback()
            general = _refusal(request, error, checked)
            return _user_page(request, session, username, checked, general, 422)
        return _see(f"/admin/users/{username}?done=assigned")
    return _user_page(request, session, username, checked, status_code=422)


@router.post(
    "/admin/users/{username}/password", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
def reset_password(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    username: UsernamePath,
    password: Annotated[str, Form()] = "",
    password2: Annotated[str, Form()] = "",
) -> Response:
    """A new password set by an admin: the user's sessions end; the new one is never shown."""
    if (missing := _found(request, session, username)) is not None:
        return missing
    checked = Checked()
    checked.password(username, password, password2)
    if checked.errors:
        return _user_page(request, session, username, checked, status_code=422)
    try:
        users.reset_password(session, username, password, admin.username)
    except ServiceError as error:
        session.rollback()
        general = _refusal(request, error, checked)
        return _user_page(request, session, username, checked, general, 422)
    return _see(f"/admin/users/{username}?done=password")


@router.post("/admin/users/{username}/pin", response_class=HTMLResponse, dependencies=[CsrfChecked])
def set_pin(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    username: UsernamePath,
    pin: Annotated[str, Form()] = "",
    pin2: Annotated[str, Form()] = "",
) -> Response:
    """A dealer clerk's or manager's counter PIN; the terminals take it at their next pull.
    The PIN is never shown back, not even in the form after an error."""
    if (missing := _found(request, session, username)) is not None:
        return missing
    checked = Checked()
    checked.pin(pin, pin2)
    if checked.errors:
        return _user_page(request, session, username, checked, status_code=422)
    try:
        users.set_pin(session, username, pin, admin.username)
    except ServiceError as error:
        session.rollback()
        general = _refusal(request, error, checked)
        return _user_page(request, session, username, checked, general, 422)
    return _see(f"/admin/users/{username}?done=pin")


@router.post(
    "/admin/users/{username}/deactivate", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
def deactivate_user(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    username: UsernamePath,
    reason: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    """First the confirmation saying what will happen; then the deactivation, at once."""
    if (missing := _found(request, session, username)) is not None:
        return missing
    checked = Checked()
    reason = checked.text("reason", reason, 500)
    if username == admin.username:
        yourself = gettext_of(request)("You cannot deactivate yourself.")
        return _user_page(request, session, username, checked, yourself, 422)
    if checked.errors:
        return _user_page(request, session, username, checked, status_code=422)
    if confirmed != "yes":
        return _confirm_deactivation(request, session, username, reason)
    try:
        users.set_active(session, username, False, admin.username, reason)
    except ServiceError as error:
        session.rollback()
        general = _refusal(request, error, checked)
        return _user_page(request, session, username, checked, general, 409)
    return _see(f"/admin/users/{username}?done=deactivated")


def _confirm_deactivation(
    request: Request, session: Session, username: str, reason: str
) -> Response:
    _ = gettext_of(request)
    shown = users.find_user(session, username)
    details = [
        _("Their open pages and API tokens stop working at once."),
        _("They can no longer log in, on the web or at a terminal."),
    ]
    if Role(shown.role) in PIN_ROLES:
        details.append(_("The terminals drop them from their clerks at their next pull."))
    if reason:
        details.append(_("Reason: %(reason)s") % {"reason": reason})
    return render(
        request,
        "confirm.html",
        {
            "title": _("Deactivate user %(username)s?") % {"username": username},
            "message": _("Deactivate %(username)s (%(name)s, %(role)s)?")
            % {
                "username": username,
                "name": shown.full_name or "–",
                "role": _(ROLE_LABELS.get(Role(shown.role), shown.role)),
            },
            "details": details,
            "action": f"/admin/users/{username}/deactivate",
            "fields": {"reason": reason},
            "button": _("Deactivate"),
            "back": f"/admin/users/{username}",
        },
    )


@router.post(
    "/admin/users/{username}/reactivate", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
def reactivate_user(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    username: UsernamePath,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """The user may log in again (sessions from before the deactivation stay ended)."""
    if (missing := _found(request, session, username)) is not None:
        return missing
    checked = Checked()
    reason = checked.text("reason", reason, 500)
    if checked.errors:
        return _user_page(request, session, username, checked, status_code=422)
    try:
        users.set_active(session, username, True, admin.username, reason)
    except ServiceError as error:
        session.rollback()
        general = _refusal(request, error, checked)
        return _user_page(request, session, username, checked, general, 409)
    return _see(f"/admin/users/{username}?done=reactivated")


# --- terminals ------------------------------------------------------------------------------

TerminalPath = Annotated[str, Path()]
# Between the registration and the page that shows its credential once, the credential
# waits in this browser, encrypted with a key of the office and bound to the terminal and
# the session; the page deletes it as it shows it.
CREDENTIAL_COOKIE = "haoka_terminal_credential"
CREDENTIAL_SECONDS = 600


TERMINAL_ID = re.compile(r"[0-9a-f-]{36}")


def _terminal_row(session: Session, terminal_id: str) -> dealers.TerminalRow:
    """The terminal of a page's address (NotFound for what cannot be a terminal id)."""
    if not TERMINAL_ID.fullmatch(terminal_id):
        raise NotFound("no such terminal", code="terminal_not_found")
    return dealers.terminal_row(session, terminal_id)


def _credential_cipher(request: Request) -> Cipher:
    key = hmac.new(
        token_key(request.app.state.settings), b"terminal credential shown once", hashlib.sha256
    ).digest()
    return Cipher("terminal credential", [key])


def _credential_context(request: Request, terminal_id: str) -> str:
    session_id = token_id(request.cookies.get(SESSION_COOKIE), request.app.state.settings)
    return f"{terminal_id}\x1f{session_id}"


def qr_data_uri(text: str) -> str:
    """A QR code of `text` as an SVG image in a data: URI (the policy allows img data:), with
    the white quiet zone a scanner needs."""
    image = qrcode.make(
        text,
        image_factory=qrcode.image.svg.SvgPathFillImage,
        box_size=10,
        border=4,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    out = io.BytesIO()
    image.save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


@router.get("/admin/terminals", response_class=HTMLResponse)
def terminals_page(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    state: Annotated[str, Query()] = "",
    dealer: Annotated[str, Query()] = "",
    after: Annotated[str, Query()] = "",
) -> Response:
    """Terminals by number with their outlet, dealer, state and what the office last heard
    from each; a keyset page at a time, filters in the URL."""
    codes = {d.code: d for d in dealers.list_dealers(session)}
    found = codes.get(dealer)
    rows, next_after = dealers.page_of_terminals(
        session,
        status=TerminalStatus(state) if state in TerminalStatus.__members__ else None,
        dealer_id=found.id if found else ("-" if dealer else None),
        after=int(after) if re.fullmatch(r"[0-9]{1,9}", after) else None,
        limit=PAGE,
    )
    return render(
        request,
        "admin/terminals.html",
        {
            "rows": rows,
            "next_after": next_after,
            "dealers": _dealer_choices(session),
            "filters": {"state": state, "dealer": dealer},
        },
    )


def _new_terminal_form(
    request: Request,
    session: Session,
    checked: Checked | None = None,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    checked = checked or Checked()
    return render(
        request,
        "admin/terminals_new.html",
        {
            "form": checked.values,
            "errors": _shown(request, checked),
            "error": error,
            "groups": _outlet_groups(session),
        },
        status_code=status_code,
    )


@router.get("/admin/terminals/new", response_class=HTMLResponse)
def new_terminal_page(request: Request, session: SessionDep, admin: AdminUser) -> Response:
    return _new_terminal_form(request, session)


@router.post("/admin/terminals/new", response_class=HTMLResponse, dependencies=[CsrfChecked])
def register_terminal(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminUser,
    outlet: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    """Registers a terminal and sends the browser to the page that shows its device
    credential, once (a reload of that page finds it gone)."""
    checked = Checked()
    outlet = checked.text("outlet", outlet, 32, required=True)
    name = checked.text("name", name, 64, required=True)
    if checked.errors:
        return _new_terminal_form(request, session, checked, status_code=422)
    try:
        registered = dealers.register_terminal(
            session, TerminalCreate(outlet=outlet, name=name), admin.username
        )
    except ServiceError as error:
        session.rollback()
        general = _refusal(request, error, checked)
        return _new_terminal_form(request, session, checked, general, 422)
    terminal_id = registered.terminal.id
    reply = _see(f"/admin/terminals/{terminal_id}/credential")
    reply.set_cookie(
        CREDENTIAL_COOKIE,
        _credential_cipher(request).encrypt(
            _credential_context(request, terminal_id), registered.credential
        ),
        max_age=CREDENTIAL_SECONDS,
        path=f"/admin/terminals/{terminal_id}",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return reply


@router.get("/admin/terminals/{terminal_id}/credential", response_class=HTMLResponse)
def terminal_credential(
    request: Request, session: SessionDep, admin: AdminUser, terminal_id: TerminalPath
) -> Response:
    """The device credential of a terminal just registered, and its QR code: shown once, to
    the browser that registered it; the cookie that brought it is deleted as it is shown."""
    try:
        row = _terminal_row(session, terminal_id)
    except ServiceError as error:
        return _missing(request, error)
    credential = None
    sealed = request.cookies.get(CREDENTIAL_COOKIE)
    if sealed:
        try:
            credential = _credential_cipher(request).decrypt(
                _credential_context(request, terminal_id), sealed
            )
        except ValueError:  # CipherError, or a cookie too short to hold a nonce
            credential = None
    reply = render(
        request,
        "admin/terminals_credential.html",
        {
            "row": row,
            "credential": credential,
            "qr": qr_data_uri(credential) if credential else None,
            "office_url": str(request.base_url).rstrip("/"),
        },
    )
    reply.delete_cookie(
        CREDENTIAL_COOKIE,
        path=f"/admin/terminals/{terminal_id}",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return reply


def _terminal_page(
    request: Request,
    session: Session,
    terminal_id: str,
    checked: Checked | None = None,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    row = _terminal_row(session, terminal_id)
    return render(
        request,
        "admin/terminals_terminal.html",
        {
            "row": row,
            "form": checked.values if checked else {},
            "errors": _shown(request, checked),
            "error": error,
            "notice": _done(request, request.query_params.get("done")),
            "history": audit.entries(session, "terminal", terminal_id, limit=20),
            "actions": ACTIONS,
        },
        status_code=status_code,
    )


@router.get("/admin/terminals/{terminal_id}", response_class=HTMLResponse)
def terminal_page(
    request: Request, session: SessionDep, admin: AdminUser, terminal_id: TerminalPath
) -> Response:
    try:
        return _terminal_page(request, session, terminal_id)
    except ServiceError as error:
        return _missing(request, error)


@router.post(
    "/admin/terminals/{terminal_id}/revoke", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
def revoke_terminal(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    terminal_id: TerminalPath,
    reason: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    """First the confirmation saying what will happen; then the revocation, at once."""
    try:
        row = _terminal_row(session, terminal_id)
    except ServiceError as error:
        return _missing(request, error)
    checked = Checked()
    reason = checked.text("reason", reason, 255, required=True)
    if checked.errors:
        return _terminal_page(request, session, terminal_id, checked, status_code=422)
    if confirmed != "yes":
        return _confirm_revocation(request, row, reason)
    try:
        dealers.revoke_terminal(session, terminal_id, reason, admin.username)
    except ServiceError as error:
        session.rollback()
        general = _refusal(request, error, checked)
        return _terminal_page(request, session, terminal_id, checked, general, 409)
    return _see(f"/admin/terminals/{terminal_id}?done=revoked")


def _confirm_revocation(request: Request, row: dealers.TerminalRow, reason: str) -> Response:
    _ = gettext_of(request)
    terminal = row.terminal
    names = {
        "no": terminal.terminal_no,
        "name": terminal.name,
        "outlet": f"{row.outlet_code} {row.outlet_name}",
    }
    return render(
        request,
        "confirm.html",
        {
            "title": _("Revoke terminal %(no)s?") % names,
            "message": _("Revoke terminal %(no)s (%(name)s) at outlet %(outlet)s?") % names,
            "details": [
                _(
                    "The office refuses its device credential at once: it can no longer push, "
                    "pull or reserve."
                ),
                _(
                    "Events it has not pushed yet stay on the terminal. A revoked terminal cannot "
                    "be brought back: register a new one."
                ),
                _("Reason: %(reason)s") % {"reason": reason},
            ],
            "action": f"/admin/terminals/{terminal.id}/revoke",
            "fields": {"reason": reason},
            "button": _("Revoke"),
            "back": f"/admin/terminals/{terminal.id}",
        },
    )
