"""The API's documentation pages, both from the app's own files (counters and offices may be
offline, and a page must not tell an outside host who reads the office's API): /docs, Swagger
UI to try the API out, and /redoc, ReDoc to read it."""

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from backoffice.api.headers import content_security_policy
from backoffice.api.pages.frame import templates

# ReDoc's styled-components put their rules in <style> elements and its search runs in a
# worker made from a blob: URL; scripts still come from this site only.
REDOC_POLICY = content_security_policy(style_src="'self' 'unsafe-inline'", worker_src="blob:")

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def docs(request: Request) -> Response:
    # Swagger UI started by a script file rather than FastAPI's inline one: the
    # Content-Security-Policy runs no inline script.
    return templates.TemplateResponse(
        request, "docs.html", {"openapi_url": request.app.openapi_url}
    )


@router.get("/redoc")
def redoc(request: Request) -> Response:
    return templates.TemplateResponse(
        request,
        "redoc.html",
        {"openapi_url": request.app.openapi_url},
        headers={"Content-Security-Policy": REDOC_POLICY},
    )


def install(app: FastAPI) -> None:
    """The two pages and Swagger UI's files (ReDoc's are among the app's own static files)."""
    app.include_router(router)
    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")
