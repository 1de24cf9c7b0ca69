"""The checks every request passes before any route runs: a body no larger than its route may
take (an import file on the upload routes, far less elsewhere), counted while it arrives; no
NUL character in its path, query or form parameters (nor in an uploaded file's name). JSON
bodies and query models are checked by their contracts (CheckedModel); integers by the bounds
of their annotated types; date parameters by their type (CheckedDate), since what is checked
here is their text."""

from typing import Any, TypeVar

from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.checks import problem

# What a request may carry beside its largest file: the form's other fields and boundaries.
FORM_OVERHEAD_BYTES = 1024 * 1024
# Any other body: a push of 200 events or a price list is a few hundred KB.
BODY_LIMIT_BYTES = 4 * 1024 * 1024
# The routes that take files or whole-month reports, up to the import limit.
LARGE_BODY_PATHS = (
    "/api/v1/number-batches/import",
    "/api/v1/sim-batches/import",
    "/api/v1/sim-pairings/import",
    "/api/v1/voucher-batches/import",
    "/api/v1/revenue",
    # The same imports from the billing centre's pages.
    "/billing/imports",
    "/billing/pairing/file",
)


class TooLarge(HTTPException):
    """A request body past the limit; FastAPI passes it on as it is, to the error handlers."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            detail={
                "code": "request_too_large",
                "message": f"the request is larger than {limit:,} bytes, the most this route "
                "takes (import files may have HAOKA_IMPORT_MAX_UPLOAD_BYTES)",
            },
        )


class BodyLimit:
    """Refuses a request body larger than its route takes (`large` bytes on LARGE_BODY_PATHS,
    `limit` elsewhere): at once when its Content-Length says so, else as soon as the bytes
    received pass it, so that nothing larger is ever spooled or parsed."""

    def __init__(self, app: ASGIApp, limit: int, large: int) -> None:
        self.app = app
        self.limit = limit
        self.large = large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.large if scope["path"] in LARGE_BODY_PATHS else self.limit
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            refusal = TooLarge(limit)
            await JSONResponse(refusal.detail, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise TooLarge(limit)
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
    # Only a route that takes a form has one to check (FastAPI has parsed it already); any
    # other route never parses a form body, so an anonymous upload costs nothing.
    body = getattr(request.scope.get("route"), "body_field", None)
    if body is None or not isinstance(body.field_info, params.Form):  # File is a Form
        return
    form = await request.form()
    for name, item in form.multi_items():
        if isinstance(item, UploadFile):
            if found := problem(name) or problem(item.filename or ""):
                raise _refusal("form", name, f"file name {found}")
        elif found := problem(name) or problem(item):
            raise _refusal("form", name, found)


# --- JSON bodies a route reads itself ----------------------------------------------------------
# A route that must authenticate before it looks at its body (a terminal's push: whoever is
# not a terminal is told so, not how the body is wrong) takes the bytes (RawBody) and parses
# them with `parse_body`, once, straight from JSON. `json_body` documents them all the same.

_DOCUMENTED: dict[str, type[BaseModel]] = {}
M = TypeVar("M", bound=BaseModel)


async def raw_body(request: Request) -> bytes:
    return await request.body()


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The route's `openapi_extra`: its body is `model`, as JSON."""
    _DOCUMENTED[model.__name__] = model
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def parse_body(model: type[M], body: bytes) -> M:
    """The body as `model`; refused (422, each error under `body`) as FastAPI would."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


def document_json_bodies(app: FastAPI) -> None:
    """Adds the models of `json_body` routes to the OpenAPI document's schemas."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, model in _DOCUMENTED.items():
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for inner, definition in schema.pop("$defs", {}).items():
                schemas.setdefault(inner, definition)
            schemas.setdefault(name, schema)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
