"""The web pages' forms are protected against cross-site posts (a CSRF token bound to the
session or to the log-in page's nonce, and a strict Origin/Referer check), and every answer of
the app carries the security headers."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backoffice.api.main import create_app
from backoffice.core.config import Settings
from backoffice.domain.users import Role
from tests.backoffice.users.helpers import ORIGIN, PASSWORD, csrf_of, make_user, web_log_in


def _post_login(client: TestClient, token: str | None, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    data = {"username": "wang01", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    return client.post("/login", data=data, headers=headers, follow_redirects=False)


def test_log_in_posts_need_this_sites_origin_and_token(
    client: TestClient, session: Session, settings: Settings
) -> None:
    make_user(session, "wang01")
    token = csrf_of(client.get("/login").text)

    for headers, sent in (
        ({"Origin": "https://evil.example"}, token),  # another site posting the form
        ({"Origin": "null"}, token),  # a sandboxed or file:// page
        ({}, token),  # neither Origin nor Referer
        ({"Referer": "https://evil.example/login"}, token),
        (ORIGIN, None),  # no token
        (ORIGIN, token[:-2] + "xx"),  # a wrong token
    ):
        reply = _post_login(client, sent, headers)
        assert reply.status_code == 403, headers
        assert "请求被拒绝" in reply.text
        assert "haoka_session" not in client.cookies

    # A token made for another browser (another log-in nonce) is no good here.
    with TestClient(create_app(settings)) as other_browser:
        foreign = csrf_of(other_browser.get("/login").text)
    assert _post_login(client, foreign, ORIGIN).status_code == 403

    # The page's own form, from this site (by Origin, or by Referer alone), logs in.
    assert _post_login(client, token, {"Referer": "http://testserver/login"}).status_code == 303
    assert "haoka_session" in client.cookies


def test_log_out_needs_the_sessions_token(
    client: TestClient, session: Session, settings: Settings
) -> None:
    make_user(session, "li02", Role.manager)
    assert web_log_in(client, "li02").status_code == 303
    page = client.get("/dashboard").text

    forged = client.post("/logout", headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    no_token = client.post("/logout", headers=ORIGIN)
    assert no_token.status_code == 403
    assert client.get("/dashboard", follow_redirects=False).status_code == 200

    # Another browser's token (here its log-in page's) is not this session's.
    with TestClient(create_app(settings)) as other_browser:
        foreign = csrf_of(other_browser.get("/login").text)
    wrong = client.post("/logout", data={"csrf_token": foreign}, headers=ORIGIN)
    assert wrong.status_code == 403

    done = client.post(
        "/logout", data={"csrf_token": csrf_of(page)}, headers=ORIGIN, follow_redirects=False
    )
    assert done.status_code == 303
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def _assert_security_headers(reply, cached: bool = False) -> None:  # type: ignore[no-untyped-def]
    policy = reply.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers[name] == value, name
    if cached:
        assert "no-store" not in reply.headers.get("cache-control", "")
    else:
        assert reply.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in reply.headers


def test_every_answer_carries_the_security_headers(client: TestClient, session: Session) -> None:
    make_user(session, "zhao03", Role.manager)
    token = client.post(
        "/api/v1/auth/token", data={"username": "zhao03", "password": PASSWORD}
    ).json()["access_token"]
    for reply in (
        client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}),
        client.get("/api/v1/users/me"),  # 401
        client.get("/api/v1/no-such-thing"),  # 404
        client.get("/login"),
        client.get("/docs"),
        client.get("/openapi.json"),
        client.get("/healthz"),
    ):
        _assert_security_headers(reply)
    assert web_log_in(client, "zhao03").status_code == 303
    _assert_security_headers(client.get("/dashboard"))
    # Static files may be cached: they hold nothing of anyone's.
    _assert_security_headers(client.get("/static/haoka/haoka.css"), cached=True)
    _assert_security_headers(client.get("/static/swagger/swagger-ui.css"), cached=True)


@pytest.fixture
def https_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="https://office.example") as client:
        yield client


def test_hsts_and_secure_cookies_over_https(https_client: TestClient, session: Session) -> None:
    make_user(session, "sun04", Role.manager)
    page = https_client.get("/login")
    assert page.headers["strict-transport-security"].startswith("max-age=31536000")
    assert "secure" in page.headers["set-cookie"].lower()
    reply = https_client.post(
        "/login",
        data={"username": "sun04", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        headers={"Origin": "https://office.example"},
        follow_redirects=False,
    )
    assert reply.status_code == 303
    cookie = reply.headers["set-cookie"].lower()
    assert "haoka_session=" in cookie and "secure" in cookie and "httponly" in cookie
    assert "samesite=strict" in cookie


def test_pages_have_no_inline_script_or_style(client: TestClient, session: Session) -> None:
    """The policy allows none, so none may be there for the pages to work."""
    make_user(session, "qian05", Role.manager)
    pages = [client.get("/login").text, client.get("/docs").text]
    web_log_in(client, "qian05")
    pages.append(client.get("/dashboard").text)
    for page in pages:
        assert "<style" not in page and " style=" not in page
        assert "<script>" not in page
