"""Every error leaves the API as {"code": ..., "message": ...} with a stable code."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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
    return _STATUS.get(type(error), 400)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        body: dict[str, object] = {"code": exc.code, "message": excerpt(str(exc), MESSAGE)}
        if isinstance(exc, ImportFileError):
            body.update(file=exc.file, line=exc.line, column=exc.column)
        if isinstance(exc, ImportRejected) and exc.report is not None:
            body["report"] = exc.report.model_dump(mode="json")  # type: ignore[attr-defined]
        return JSONResponse(body, status_code=status_of(exc))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict):
            body = exc.detail
        else:
            body = {"code": f"http_{exc.status_code}", "message": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
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
        return JSONResponse(
            {
                "code": "invalid_request",
                "message": f"{first['field']}: {first['message']}",
                "details": problems,
            },
            status_code=422,
        )
