"""Logging in and out of the web pages: the session cookie holds the same token as the API,
within the same log-in limits, and log-out revokes it."""

from contextlib import suppress
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backoffice.api.deps import SESSION_COOKIE, SessionDep, SettingsDep, user_of_token
from backoffice.api.pages.frame import (
    LANGUAGE_COOKIE,
    LOGIN_NONCE_COOKIE,
    OFFICE_ZONE,
    CsrfChecked,
    gettext_of,
    home_of,
    login_nonce,
    render,
    safe_next,
    set_login_nonce,
)
from backoffice.api.routes.auth import client_address
from backoffice.core import i18n
from backoffice.core.security import TokenError, decode_access_token
from backoffice.services import users
from backoffice.services.errors import Unauthenticated

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, session: SessionDep, settings: SettingsDep) -> RedirectResponse:
    """The first page of the user's menu, or the log-in page."""
    user = user_of_token(session, settings, request.cookies.get(SESSION_COOKIE))
    if user is None:
        return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    return RedirectResponse(home_of(user), status.HTTP_303_SEE_OTHER)


@router.get("/language/{code}")
def switch_language(request: Request, code: str, next: str = "/") -> RedirectResponse:
    """The language switch: remembered in a cookie for a year; back to the same page."""
    reply = RedirectResponse(safe_next(next), status.HTTP_303_SEE_OTHER)
    reply.set_cookie(
        LANGUAGE_COOKIE,
        i18n.language(code),
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return reply


def _form(
    request: Request,
    next: str,
    username: str = "",
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    nonce = login_nonce(request)
    reply = render(
        request,
        "auth/login.html",
        {"next": safe_next(next), "error": error, "username": username},
        status_code=status_code,
    )
    return set_login_nonce(request, reply, nonce)


def _wait(_: i18n.Translate, seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    if minutes:
        return _("%(minutes)s min %(seconds)s s") % {"minutes": minutes, "seconds": seconds}
    return _("%(seconds)s s") % {"seconds": seconds}


def _locked_message(request: Request, error: users.LoginLocked) -> str:
    _ = gettext_of(request)
    if error.scope == "account":
        message = _(
            "Too many failed log-ins for this account: it is locked for now. Try again after "
            "%(until)s Beijing time (in %(wait)s)."
        )
    else:
        message = _(
            "Too many failed log-ins from this address: it is locked for now. Try again after "
            "%(until)s Beijing time (in %(wait)s)."
        )
    until = error.until.astimezone(OFFICE_ZONE)
    return message % {"until": f"{until:%H:%M:%S}", "wait": _wait(_, error.retry_after)}


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    return _form(request, next)


@router.post("/login", response_class=HTMLResponse, dependencies=[CsrfChecked])
def log_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        user, issued = users.log_in(session, username, password, client_address(request), settings)
    except users.LoginLocked as error:
        reply = _form(
            request,
            next,
            username,
            _locked_message(request, error),
            status.HTTP_429_TOO_MANY_REQUESTS,
        )
        reply.headers["Retry-After"] = str(error.retry_after)
        return reply
    except Unauthenticated:
        _ = gettext_of(request)
        wrong = _("Wrong user name or password.")
        return _form(request, next, username, wrong, status.HTTP_401_UNAUTHORIZED)
    target = safe_next(next)
    reply = RedirectResponse(home_of(user) if target == "/" else target, status.HTTP_303_SEE_OTHER)
    reply.set_cookie(
        SESSION_COOKIE,
        issued.token,
        expires=issued.expires_at,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    reply.delete_cookie(LOGIN_NONCE_COOKIE)
    return reply


@router.post("/logout", dependencies=[CsrfChecked])
def log_out(request: Request, session: SessionDep, settings: SettingsDep) -> RedirectResponse:
    """Revokes the session's token, so a copy of the cookie is worthless from now on."""
    token = request.cookies.get(SESSION_COOKIE)
    # An expired token, or one not ours, leaves nothing to revoke.
    with suppress(TokenError):
        users.end_session(session, decode_access_token(token or "", settings))
    reply = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    reply.delete_cookie(SESSION_COOKIE)
    return reply
