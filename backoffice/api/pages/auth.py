"""Logging in and out of the web pages: the session cookie holds the same token as the API."""

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backoffice.api.deps import SESSION_COOKIE, SessionDep, SettingsDep
from backoffice.api.pages.frame import safe_next, templates
from backoffice.core.security import create_access_token
from backoffice.services import users

router = APIRouter(include_in_schema=False)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/dashboard", status.HTTP_303_SEE_OTHER)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/dashboard") -> Response:
    return templates.TemplateResponse(
        request, "auth/login.html", {"next": safe_next(next), "error": None, "username": ""}
    )


@router.post("/login", response_class=HTMLResponse)
def log_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/dashboard",
) -> Response:
    user = users.authenticate(session, username, password)
    if user is None:
        return templates.TemplateResponse(
            request,
            "auth/login.html",
            {"next": safe_next(next), "error": "用户名或密码错误", "username": username},
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
    token, expires = create_access_token(user.id, user.role, settings)
    reply = RedirectResponse(safe_next(next), status.HTTP_303_SEE_OTHER)
    reply.set_cookie(
        SESSION_COOKIE,
        token,
        expires=expires,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return reply


@router.post("/logout")
def log_out() -> RedirectResponse:
    reply = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    reply.delete_cookie(SESSION_COOKIE)
    return reply
