"""The checks every request passes before any route runs: a body no larger than the largest
import file, counted while it arrives; no NUL character in its path, query or form parameters
(nor in an uploaded file's name). JSON bodies and query models are checked by their
contracts (CheckedModel); integers by the bounds of their annotated types; date parameters by
their type (CheckedDate), since what is checked here is their text."""

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.checks import problem

# What a request may carry beside its largest file: the form's other fields and boundaries.
FORM_OVERHEAD_BYTES = 1024 * 1024


class TooLarge(HTTPException):
    """A request body past the limit; FastAPI passes it on as it is, to the error handlers."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            detail={
                "code": "request_too_large",
                "message": f"the request is larger than {limit:,} bytes, the most one may carry "
                "(an import file may have HAOKA_IMPORT_MAX_UPLOAD_BYTES)",
            },
        )


class BodyLimit:
    """Refuses a request body larger than `limit` bytes: at once when its Content-Length says
    so, else as soon as the bytes received pass it, so that nothing larger is ever spooled."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            refusal = TooLarge(self.limit)
            await JSONResponse(refusal.detail, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise TooLarge(self.limit)
            return message

        await self.app(scope, counted, send)


def _refusal(where: str, name: str, found: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "unfit_for_storage", "loc": (where, name), "msg": found, "input": None}]
    )


async def refuse_nul_parameters(request: Request) -> None:
    """Refuses, naming the parameter, what PostgreSQL could not store and no route should
    see. Runs as an app-wide dependency: after routing, so path parameters have their names;
    the form is the one FastAPI already parsed for the route."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and (found := problem(value)):
            raise _refusal("path", name, found)
    for name, value in request.query_params.multi_items():
        if found := problem(name) or problem(value):
            raise _refusal("query", name, found)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        return
    form = await request.form()
    for name, item in form.multi_items():
        if isinstance(item, UploadFile):
            if found := problem(name) or problem(item.filename or ""):
                raise _refusal("form", name, f"file name {found}")
        elif found := problem(name) or problem(item):
            raise _refusal("form", name, found)
