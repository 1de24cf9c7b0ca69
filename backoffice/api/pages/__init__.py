"""The back office's web pages, one router module per area (templates in a folder per area
under api/templates, style sheet and scripts under api/static), mounted together."""

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from backoffice.api.pages import admin, auth, billing, channel, jobs, settlement, statistics
from backoffice.api.pages.frame import (
    STATIC_DIR,
    CsrfRejected,
    LoginNeeded,
    PageForbidden,
    csrf_rejected,
    error_page,
    login_needed,
    page_forbidden,
)

router = APIRouter(include_in_schema=False)
for area in (auth, statistics, jobs, billing, channel, settlement, admin):
    router.include_router(area.router)


def install(app: FastAPI) -> None:
    """The pages, their static files, and the page that answers a refused form post."""
    app.include_router(router)
    app.mount("/static/haoka", StaticFiles(directory=STATIC_DIR), name="haoka")
    app.state.page_errors = error_page
    app.add_exception_handler(CsrfRejected, csrf_rejected)
    app.add_exception_handler(LoginNeeded, login_needed)
    app.add_exception_handler(PageForbidden, page_forbidden)
