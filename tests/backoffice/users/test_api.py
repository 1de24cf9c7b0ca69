"""The HTTP API's log-in and roles: authentication required everywhere, roles enforced, users
managed by admins, the OpenAPI document served."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from backoffice.domain.users import Role

Login = Callable[[Role], dict[str, str]]


BILLING_ROUTES = [
    (
        "post",
        "/api/v1/number-batches/segment",
        {"json": {"prefix": "1390575", "start": 0, "end": 9}},
    ),
    ("post", "/api/v1/releases", {"json": {"item_kind": "numbers", "batch": "x"}}),
    ("post", "/api/v1/sim-pairings/in-order", {"json": {"number_batch": "a", "sim_batch": "b"}}),
    (
        "post",
        "/api/v1/voucher-batches/generate",
        {
            "json": {
                "face_value_fen": 5000,
                "dealer_price_fen": 4850,
                "expires_on": "2099-12-31",
                "first_serial": "10575000000000001",
                "count": 1,
            }
        },
    ),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), BILLING_ROUTES)
def test_anonymous_gets_401(client: TestClient, method: str, path: str, kwargs: dict) -> None:
    reply = getattr(client, method)(path, **kwargs)
    assert reply.status_code == 401
    assert reply.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(("method", "path", "kwargs"), BILLING_ROUTES)
def test_clerk_gets_403_on_billing_routes(
    client: TestClient, login: Login, method: str, path: str, kwargs: dict
) -> None:
    reply = getattr(client, method)(path, headers=login(Role.clerk), **kwargs)
    assert reply.status_code == 403
    assert reply.json()["code"] == "forbidden"


def test_every_api_route_requires_authentication(client: TestClient) -> None:
    open_routes = {"/api/v1/auth/token"}
    # The OpenAPI document lists every route (the app's own route list is lazy since FastAPI
    # mounts included routers without flattening them).
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    checked = 0
    for path, operations in paths.items():
        if not path.startswith("/api/v1") or path in open_routes:
            continue
        for method in operations:
            concrete = path.replace("{", "").replace("}", "")
            reply = client.request(method.upper(), concrete)
            assert reply.status_code == 401, f"{method} {path} answered {reply.status_code}"
            checked += 1
    assert checked > 90


def test_bad_password_and_forged_token(client: TestClient, login: Login) -> None:
    login(Role.billing)
    reply = client.post("/api/v1/auth/token", data={"username": "billing1", "password": "nope"})
    assert reply.status_code == 401 and reply.json()["code"] == "bad_credentials"
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}
    assert client.get("/api/v1/users/me", headers=forged).status_code == 401


def test_admin_creates_users_and_only_admin(client: TestClient, login: Login) -> None:
    body = {
        "username": "wangfang",
        "password": "s3cret-pass",
        "role": "billing",
        "full_name": "王芳",
    }
    assert client.post("/api/v1/users", json=body, headers=login(Role.billing)).status_code == 403
    reply = client.post("/api/v1/users", json=body, headers=login(Role.admin))
    assert reply.status_code == 201, reply.text
    assert "password" not in reply.text and reply.json()["full_name"] == "王芳"
    again = client.post("/api/v1/users", json=body, headers=login(Role.admin))
    assert again.status_code == 409 and again.json()["code"] == "username_taken"
    token = client.post(
        "/api/v1/auth/token", data={"username": "wangfang", "password": "s3cret-pass"}
    ).json()
    me = client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert me.json()["role"] == "billing"


def test_openapi_is_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/numbers" in spec["paths"]
    assert spec["paths"]["/api/v1/numbers"]["get"]["operationId"] == "numbers-search_numbers"
    docs = client.get("/docs").text
    assert "/static/swagger/swagger-ui-bundle.js" in docs and "cdn" not in docs
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
