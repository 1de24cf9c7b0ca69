"""Hostile input is refused with 422 naming the field, never a server error: NUL characters in
JSON bodies, form fields, query strings and paths; integers beyond what their column holds; dates
outside the years 1900–9000.
One check covers every route: request contracts (JSON bodies, forms, query models) derive from
CheckedModel, integer parameters carry bounds, date parameters are CheckedDate, and the app
checks path, query and form parameters before any route runs."""

import typing
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Annotated

import annotated_types
from fastapi import Body, FastAPI, Form, Query, params
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from backoffice.domain.users import Role
from backoffice.models import AuditEntry
from shared.checks import FIT_FOR_STORAGE, INT64_MAX, CheckedDate, CheckedModel
from tests.backoffice.channel.helpers import channel, pool
from tests.backoffice.users.helpers import web_log_in

Login = Callable[[Role], dict[str, str]]


def _routes(routes: list) -> Iterator[APIRoute]:  # type: ignore[type-arg]
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)


def _models(annotation: object) -> Iterator[type[BaseModel]]:
    for arg in typing.get_args(annotation):
        yield from _models(arg)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation


def _is_int(annotation: object) -> bool:
    return annotation is int or int in typing.get_args(annotation)


def _bounded(metadata: list[object]) -> bool:
    highs = [m for m in metadata if isinstance(m, annotated_types.Le | annotated_types.Lt)]
    lows = [m for m in metadata if isinstance(m, annotated_types.Ge | annotated_types.Gt)]
    return bool(highs and lows) and all(h.le <= INT64_MAX for h in highs if hasattr(h, "le"))


def _walk_model(model: type[BaseModel], seen: set[type], loose: set[str]) -> None:
    if model in seen:
        return
    seen.add(model)
    if not issubclass(model, CheckedModel):
        loose.add(f"{model.__module__}.{model.__qualname__} is not a CheckedModel")
    for name, field in model.model_fields.items():
        if _is_int(field.annotation) and not _bounded(field.metadata):
            loose.add(f"{model.__qualname__}.{name} is an unbounded integer")
        for inner in _models(field.annotation):
            _walk_model(inner, seen, loose)


def _is_date(annotation: object) -> bool:
    """A date or datetime, or a union or Annotated holding one."""
    if isinstance(annotation, type) and issubclass(annotation, date):
        return True
    return any(_is_date(arg) for arg in typing.get_args(annotation))


def _date_checked(annotation: object, metadata: list[object]) -> bool:
    """Carries the storage check (CheckedDate): in the parameter's own metadata, or inside the
    Annotated its union holds."""
    if FIT_FOR_STORAGE in metadata:
        return True
    return any(
        arg is FIT_FOR_STORAGE or _date_checked(arg, []) for arg in typing.get_args(annotation)
    )


def _unchecked(app: FastAPI) -> tuple[int, set[str]]:
    """The app's routes, and what in their requests skips the checks: a request contract (body,
    form or query model) not a CheckedModel; an integer without bounds; a JSON body parameter
    that is no contract (a bare `Body()`: the app-wide check sees path, query and form
    parameters, not JSON); a date parameter without CheckedDate (the app-wide check sees its
    text, not the date it parses to)."""
    loose: set[str] = set()
    seen: set[type] = set()
    routes = list(_routes(app.router.routes))
    for route in routes:
        stack = [route.dependant]
        while stack:
            dependant = stack.pop()
            stack += dependant.dependencies
            for param in dependant.body_params:
                info = param.field_info
                models = list(_models(info.annotation))
                for model in models:
                    _walk_model(model, seen, loose)
                if models:
                    continue
                if not isinstance(info, params.Form):
                    loose.add(f"{route.path} body parameter {param.name} is not a contract")
                if _is_int(info.annotation) and not _bounded(info.metadata):
                    loose.add(f"{route.path} form field {param.name} is unbounded")
                if _is_date(info.annotation) and not _date_checked(info.annotation, info.metadata):
                    loose.add(f"{route.path} form field {param.name} is an unchecked date")
            for param in (
                dependant.query_params
                + dependant.path_params
                + dependant.header_params
                + dependant.cookie_params
            ):
                info = param.field_info
                models = list(_models(info.annotation))
                for model in models:
                    _walk_model(model, seen, loose)
                if models:
                    continue
                if _is_int(info.annotation) and not _bounded(info.metadata):
                    loose.add(f"{route.path} parameter {param.name} is unbounded")
                if _is_date(info.annotation) and not _date_checked(info.annotation, info.metadata):
                    loose.add(f"{route.path} parameter {param.name} is an unchecked date")
    return len(routes), loose


def test_every_request_contract_is_checked_and_every_integer_bounded(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    count, loose = _unchecked(app)
    assert count > 100
    assert not loose, "\n".join(sorted(loose))


class _Plain(BaseModel):
    text: str = ""


class _Checked(CheckedModel):
    day: date
    count: int = Field(default=0, ge=0, le=10)


def test_the_walk_finds_every_kind_of_unchecked_parameter() -> None:
    """What the walk above must catch, each kind of gap once, so that none can come back."""
    app = FastAPI()

    @app.get("/query-model")
    def query_model(query: Annotated[_Plain, Query()]) -> None: ...

    @app.post("/bare-body")
    def bare_body(reason: Annotated[str, Body(embed=True)]) -> None: ...

    @app.get("/dates/{day}")
    def dates(day: date, start: date | None = None, stamp: datetime | None = None) -> None: ...

    @app.post("/form-date")
    def form_date(day: Annotated[date, Form()]) -> None: ...

    @app.get("/integer")
    def integer(count: int = 0) -> None: ...

    @app.get("/fine/{day}")
    def fine(
        day: CheckedDate,
        query: Annotated[_Checked, Query()],
        start: CheckedDate | None = None,
        note: str = "",
        limit: Annotated[int, Query(ge=1, le=10)] = 1,
    ) -> None: ...

    @app.post("/fine")
    def fine_body(
        request: _Checked,
        code: Annotated[str, Form()] = "",
        day: Annotated[CheckedDate | None, Form()] = None,
    ) -> None: ...

    _, loose = _unchecked(app)
    assert loose == {
        f"{__name__}._Plain is not a CheckedModel",
        "/bare-body body parameter reason is not a contract",
        "/dates/{day} parameter day is an unchecked date",
        "/dates/{day} parameter start is an unchecked date",
        "/dates/{day} parameter stamp is an unchecked date",
        "/form-date form field day is an unchecked date",
        "/integer parameter count is unbounded",
    }


def _assert_names(reply, field: str) -> None:  # type: ignore[no-untyped-def]
    assert reply.status_code == 422, (reply.status_code, reply.text)
    body = reply.json()
    assert body["code"] == "invalid_request", body
    assert field in body["message"], body
    assert "\x00" not in reply.text


def test_nul_in_bodies_queries_paths_and_forms_is_refused_naming_the_field(
    client: TestClient, session: Session, login: Login
) -> None:
    pool(session, end=9)
    channel(session)
    admin = login(Role.admin)
    _assert_names(
        client.post(
            "/api/v1/dealers",
            json={"code": "D9", "name": "越城\x00通讯", "kind": "partner", "credit_limit_fen": 0},
            headers=admin,
        ),
        "body.name",
    )
    _assert_names(
        client.patch("/api/v1/dealers/D1", json={"name": "x\x00"}, headers=admin), "body.name"
    )
    _assert_names(client.get("/api/v1/dealers/D%001", headers=admin), "path.")
    _assert_names(client.get("/api/v1/numbers?pattern=*8%008", headers=admin), "query.pattern")
    _assert_names(client.get("/api/v1/statistics/sales?grade=G%001", headers=admin), "query.grade")
    _assert_names(
        client.get("/api/v1/statistics/sales/csv?dealer=D%001", headers=admin), "query.dealer"
    )
    _assert_names(
        client.post(
            "/api/v1/number-batches/import",
            files={"file": ("n.csv", b"msisdn\n13905750001\n")},
            data={"code": "A\x00B"},
            headers=admin,
        ),
        "form.code",
    )
    _assert_names(
        client.post("/api/v1/auth/token", data={"username": "a\x00", "password": "x"}),
        "form.username",
    )


def test_integers_beyond_their_column_are_refused_naming_the_field(
    client: TestClient, session: Session, login: Login
) -> None:
    pool(session, end=9)
    channel(session)
    admin = login(Role.admin)
    _assert_names(
        client.post(
            "/api/v1/dealers",
            json={"code": "D9", "name": "x", "kind": "partner", "credit_limit_fen": 2**63},
            headers=admin,
        ),
        "body.credit_limit_fen",
    )
    _assert_names(client.get("/api/v1/price-lists/99999999999", headers=admin), "path.version")
    _assert_names(
        client.post(
            "/api/v1/discrepancies/99999999999/resolve",
            json={"resolution": "noted"},
            headers=admin,
        ),
        "path.discrepancy_id",
    )
    _assert_names(
        client.post(
            "/api/v1/outlets",
            json={"dealer": "D1", "code": "O9", "name": "x", "reservation_quota": 2**40},
            headers=admin,
        ),
        "body.reservation_quota",
    )


def test_dates_outside_1900_to_9000_are_refused_naming_the_field(
    client: TestClient, session: Session, login: Login
) -> None:
    """Query dates too: in query models and as parameters of their own, on the API and the
    pages (day_start of year 1 or 9999's next day overflowed: a server error)."""
    channel(session)
    admin = login(Role.admin)
    for path, field in (
        ("/api/v1/shifts/z-reports?end=9999-12-31", "query.end"),
        ("/api/v1/shifts/z-reports?start=0001-01-01", "query.start"),
        ("/api/v1/shifts/z-reports/csv?end=9999-12-31", "query.end"),
        ("/api/v1/shifts/z-reports/xlsx?start=0001-01-01", "query.start"),
        ("/api/v1/statistics/sales?start=0001-01-01&end=0001-01-31", "query.start"),
        ("/api/v1/statistics/sell-through/csv?start=8999-12-01&end=9999-01-01", "query.end"),
        ("/api/v1/statistics/dashboard?day=0001-01-01", "query.day"),
        ("/api/v1/statistics/dashboard?day=9999-12-31", "query.day"),
        ("/api/v1/dealers/D1/account?start=0001-01-01", "query.start"),
        ("/api/v1/dealers/D1/account?end=9999-12-31", "query.end"),
        ("/api/v1/settlement/statements?period_start=1899-12-01", "query.period_start"),
    ):
        _assert_names(client.get(path, headers=admin), field)
    # A page answers with a page of the frame naming the parameter.
    assert web_log_in(client, "admin1").status_code == 303
    page = client.get("/dashboard?day=0001-01-01")
    assert page.status_code == 422 and "query.day" in page.text and "<html" in page.text
    # The years between still answer.
    assert client.get("/api/v1/shifts/z-reports?end=9000-12-31", headers=admin).json() == []
    span = "start=1900-01-01&end=1900-12-31"
    assert client.get(f"/api/v1/statistics/sales?{span}", headers=admin).status_code == 200
    late = client.get("/api/v1/statistics/dashboard?day=9000-12-31", headers=admin)
    assert late.status_code == 200, late.text


def test_a_terminal_revocation_reason_is_checked_like_any_contract(
    client: TestClient, session: Session, login: Login
) -> None:
    shop = channel(session)
    admin = login(Role.admin)
    path = f"/api/v1/terminals/{shop.terminal_id}/revoke"
    _assert_names(client.post(path, json={"reason": "lost\x00"}, headers=admin), "body.reason")
    _assert_names(client.post(path, json={"reason": ""}, headers=admin), "body.reason")
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "revoke")).first() is None
    done = client.post(path, json={"reason": "lost"}, headers=admin)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "revoked"
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "revoke")).one()
    assert entry.reason == "lost"
