"""The frame every web page shares: the templates, role names, the log-in redirect, the page a
role may not open, and the CSRF protection of every form that changes something."""

import secrets
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, Request, status
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from backoffice.api.deps import SESSION_COOKIE, SettingsDep
from backoffice.core.config import Settings
from backoffice.core.security import csrf_token, csrf_token_matches, token_id
from backoffice.domain.users import Role
from backoffice.models import User
from shared.money import format_fen

STATIC_DIR = Path(__file__).parent.with_name("static")
templates = Jinja2Templates(directory=Path(__file__).parent.with_name("templates"))
templates.env.filters["yuan"] = format_fen
templates.env.filters["percent"] = lambda rate: "–" if rate is None else f"{rate * 100:.1f}%"

ROLE_NAMES = {
    Role.admin: "系统管理员",
    Role.manager: "经理",
    Role.sales_centre: "销售中心",
    Role.dealer_manager: "代理商店长",
}
CSRF_FIELD = "csrf_token"
# Before log-in there is no session to bind a form to: the log-in page sets this nonce.
LOGIN_NONCE_COOKIE = "haoka_login_nonce"


def role_name(user: User) -> str:
    return ROLE_NAMES.get(Role(user.role), user.role)


def safe_next(target: str) -> str:
    """Only a path of this site: never another host (an open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/dashboard"


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status.HTTP_303_SEE_OTHER)


def refused(
    request: Request, user: User, status_code: int, error: Exception | None = None
) -> Response:
    """The page a user sees where the role may not go, or the request was refused."""
    return templates.TemplateResponse(
        request,
        "forbidden.html",
        {"user": user, "role": role_name(user), "error": error},
        status_code=status_code,
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
