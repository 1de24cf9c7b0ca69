"""Hostile input is refused with 422 naming the field, never a server error: NUL characters in
JSON bodies, form fields, query strings and paths; integers beyond what their column holds.
One check covers every route: request contracts derive from CheckedModel, integer parameters
carry bounds, and the app checks path, query and form parameters before any route runs."""

import typing
from collections.abc import Callable, Iterator

import annotated_types
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlmodel import Session

from backoffice.domain.users import Role
from shared.checks import INT64_MAX, CheckedModel
from tests.backoffice.channel.helpers import channel, pool

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


def test_every_request_contract_is_checked_and_every_integer_bounded(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    loose: set[str] = set()
    seen: set[type] = set()
    routes = list(_routes(app.router.routes))
    assert len(routes) > 100
    for route in routes:
        stack = [route.dependant]
        while stack:
            dependant = stack.pop()
            stack += dependant.dependencies
            for param in dependant.body_params:
                models = list(_models(param.field_info.annotation))
                for model in models:
                    _walk_model(model, seen, loose)
                annotation, metadata = param.field_info.annotation, param.field_info.metadata
                if not models and _is_int(annotation) and not _bounded(metadata):
                    loose.add(f"{route.path} form field {param.name} is unbounded")
            for param in dependant.query_params + dependant.path_params:
                if _is_int(param.field_info.annotation) and not _bounded(param.field_info.metadata):
                    loose.add(f"{route.path} parameter {param.name} is unbounded")
    assert not loose, "\n".join(sorted(loose))


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
