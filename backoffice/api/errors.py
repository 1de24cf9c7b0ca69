"""Every error leaves the API as {"code": ..., "message": ...} with a stable code, and the web
pages as a page of the frame."""

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from backoffice.services.errors import (
    Conflict,
    Forbidden,
    ImportFileError,
    ImportRejected,
    InvalidInput,
    NotFound,
    ServiceError,
    Unauthenticated,
)
from shared.checks import excerpt

# Bounds on what an error repeats of the request: a 200 MB value is never echoed back.
MESSAGE = 1_000
FIELD = 200
DETAILS = 20

_STATUS = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    ImportFileError: 422,
    ImportRejected: 422,
    Unauthenticated: 401,
    Forbidden: 403,
}


def status_of(error: ServiceError) -> int:
    """The status of the error's class, or of the nearest base class that has one."""
    return next((_STATUS[c] for c in type(error).__mro__ if c in _STATUS), 400)


# The pages answer errors with a page of their own (pages.install sets it): a person at a
# browser gets the frame, a message in their language and a way on, not JSON.
PageErrors = Callable[[Request, int, str | ServiceError], Response]


def _page_errors(request: Request) -> PageErrors | None:
    if request.url.path.startswith(("/api/", "/openapi.json", "/static/")):
        return None
    return getattr(request.app.state, "page_errors", None)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> Response:
        page = _page_errors(request)
        if page is not None:
            return await run_in_threadpool(page, request, status_of(exc), exc)
        body: dict[str, object] = {"code": exc.code, "message": excerpt(str(exc), MESSAGE)}
        if isinstance(exc, ImportFileError):
            body.update(file=exc.file, line=exc.line, column=exc.column)
        if isinstance(exc, ImportRejected) and exc.report is not None:
            body["report"] = exc.report.model_dump(mode="json")  # type: ignore[attr-defined]
        return JSONResponse(body, status_code=status_of(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        page = _page_errors(request)
        if page is not None:
            return await run_in_threadpool(page, request, exc.status_code, str(exc.detail))
        if isinstance(exc.detail, dict):
            body = exc.detail
        else:
            body = {"code": f"http_{exc.status_code}", "message": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # Names and messages may quote what was sent: NUL shown as ␀, each cut to an excerpt.
        errors = exc.errors()
        problems = [
            {
                "field": excerpt(".".join(str(p) for p in e["loc"]), FIELD),
                "message": excerpt(str(e["msg"]), FIELD),
            }
            for e in errors[:DETAILS]
        ]
        first = problems[0] if problems else {"field": "", "message": "invalid request"}
        page = _page_errors(request)
        if page is not None:
            message = f"{first['field']}: {first['message']}"
            return await run_in_threadpool(page, request, 422, message)
        return JSONResponse(
            {
                "code": "invalid_request",
                "message": f"{first['field']}: {first['message']}",
                "details": problems,
            },
            status_code=422,
        )
