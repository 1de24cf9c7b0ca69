"""The frame every web page shares: the templates, role names, the log-in redirect and the
page a role may not open."""

from pathlib import Path
from urllib.parse import quote

from fastapi import Request, status
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from backoffice.domain.users import Role
from backoffice.models import User
from shared.money import format_fen

templates = Jinja2Templates(directory=Path(__file__).parent.with_name("templates"))
templates.env.filters["yuan"] = format_fen
templates.env.filters["percent"] = lambda rate: "–" if rate is None else f"{rate * 100:.1f}%"

ROLE_NAMES = {
    Role.admin: "系统管理员",
    Role.manager: "经理",
    Role.sales_centre: "销售中心",
    Role.dealer_manager: "代理商店长",
}


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
