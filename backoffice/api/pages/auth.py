"""Logging in and out of the web pages: the session cookie holds the same token as the API,
within the same log-in limits, and log-out revokes it."""

from contextlib import suppress
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backoffice.api.deps import SESSION_COOKIE, SessionDep, SettingsDep
from backoffice.api.pages.frame import (
    LOGIN_NONCE_COOKIE,
    CsrfChecked,
    login_nonce,
    safe_next,
    set_login_nonce,
    templates,
)
from backoffice.api.routes.auth import client_address
from backoffice.core.security import TokenError, decode_access_token
from backoffice.services import users
from backoffice.services.errors import Unauthenticated

router = APIRouter(include_in_schema=False)
# The office shows times as China time, as the people using it read them.
OFFICE_ZONE = ZoneInfo("Asia/Shanghai")


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/dashboard", status.HTTP_303_SEE_OTHER)


def _form(
    request: Request,
    next: str,
    username: str = "",
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    nonce = login_nonce(request)
    reply = templates.TemplateResponse(
        request,
        "auth/login.html",
        {"next": safe_next(next), "error": error, "username": username},
        status_code=status_code,
    )
    return set_login_nonce(request, reply, nonce)


def _wait(seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} 分 {seconds} 秒" if minutes else f"{seconds} 秒"


def _locked_message(error: users.LoginLocked) -> str:
    whose = "该账号" if error.scope == "account" else "本机地址"
    until = error.until.astimezone(OFFICE_ZONE)
    return (
        f"{whose}登录失败次数过多，已暂时锁定。"
        f"请于北京时间 {until:%H:%M:%S} 之后重试（还需 {_wait(error.retry_after)}）。"
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/dashboard") -> Response:
    return _form(request, next)


@router.post("/login", response_class=HTMLResponse, dependencies=[CsrfChecked])
def log_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/dashboard",
) -> Response:
    try:
        _, issued = users.log_in(session, username, password, client_address(request), settings)
    except users.LoginLocked as error:
        reply = _form(
            request, next, username, _locked_message(error), status.HTTP_429_TOO_MANY_REQUESTS
        )
        reply.headers["Retry-After"] = str(error.retry_after)
        return reply
    except Unauthenticated:
        return _form(request, next, username, "用户名或密码错误", status.HTTP_401_UNAUTHORIZED)
    reply = RedirectResponse(safe_next(next), status.HTTP_303_SEE_OTHER)
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
