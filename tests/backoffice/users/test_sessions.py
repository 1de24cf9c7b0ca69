"""Sessions: tokens carry expiry, issue time and a unique id and are refused without them;
log-out (API and web pages) revokes the token at once; revocations are pruned once expired."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backoffice.core.config import Settings
from backoffice.core.security import TOKEN_ALGORITHM, token_key
from backoffice.domain.users import Role
from backoffice.models import RevokedToken
from backoffice.services import users
from tests.backoffice.users.helpers import (
    ORIGIN,
    bearer,
    csrf_of,
    make_user,
    token_of,
    web_log_in,
)

ME = "/api/v1/users/me"


def test_a_token_carries_expiry_issue_time_and_a_unique_id(
    client: TestClient, session: Session, settings: Settings
) -> None:
    make_user(session, "wang01")
    first, second = token_of(client, "wang01"), token_of(client, "wang01")
    claims = jwt.decode(first, token_key(settings), algorithms=[TOKEN_ALGORITHM])
    assert claims["exp"] - claims["iat"] == settings.token_minutes * 60
    assert claims["jti"] != jwt.decode(second, options={"verify_signature": False})["jti"]


@pytest.mark.parametrize("missing", ["exp", "iat", "jti"])
def test_a_signed_token_without_exp_iat_or_jti_is_refused(
    client: TestClient, session: Session, settings: Settings, missing: str
) -> None:
    """Signed with the office's own key, so only the missing claim can be why."""
    user = make_user(session, "li02")
    now = datetime.now(UTC)
    claims = {
        "sub": user.id,
        "role": "billing",
        "typ": "user",
        "sep": 0,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": "a-unique-id",
    }
    complete = jwt.encode(claims, token_key(settings), algorithm=TOKEN_ALGORITHM)
    assert client.get(ME, headers=bearer(complete)).status_code == 200
    del claims[missing]
    forged = jwt.encode(claims, token_key(settings), algorithm=TOKEN_ALGORITHM)
    reply = client.get(ME, headers=bearer(forged))
    assert reply.status_code == 401 and reply.json()["code"] == "not_authenticated"


def test_api_log_out_revokes_that_token_only(client: TestClient, session: Session) -> None:
    make_user(session, "zhao03")
    ended, other = token_of(client, "zhao03"), token_of(client, "zhao03")
    assert client.post("/api/v1/auth/logout", headers=bearer(ended)).status_code == 204
    assert client.get(ME, headers=bearer(ended)).status_code == 401
    assert client.post("/api/v1/auth/logout", headers=bearer(ended)).status_code == 401
    # The user's other session goes on.
    assert client.get(ME, headers=bearer(other)).json()["username"] == "zhao03"


def test_revocations_are_kept_until_expiry_then_pruned(
    client: TestClient, session: Session
) -> None:
    user = make_user(session, "sun04")
    past = datetime.now(UTC) - timedelta(hours=1)
    session.add(RevokedToken(jti="long-expired", user_id=user.id, expires_at=past))
    session.commit()
    token = token_of(client, "sun04")
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    kept = session.exec(select(RevokedToken.jti)).all()
    assert "long-expired" not in kept and len(kept) == 1
    # A token already expired is not stored at all: it is refused anyway.
    users.end_session(session, {"jti": "gone", "sub": user.id, "exp": past.timestamp()})
    assert "gone" not in session.exec(select(RevokedToken.jti)).all()


def test_web_log_out_ends_the_session_and_the_old_cookie_is_refused(
    client: TestClient, session: Session
) -> None:
    make_user(session, "zhou05", Role.manager)
    reply = web_log_in(client, "zhou05")
    assert reply.status_code == 303 and reply.headers["location"] == "/dashboard"
    cookie = client.cookies["haoka_session"]
    page = client.get("/dashboard")
    assert page.status_code == 200

    logged_out = client.post(
        "/logout", data={"csrf_token": csrf_of(page.text)}, headers=ORIGIN, follow_redirects=False
    )
    assert (logged_out.status_code, logged_out.headers["location"]) == (303, "/login")

    # Someone who kept a copy of the cookie gets nothing with it.
    client.cookies.set("haoka_session", cookie)
    again = client.get("/dashboard", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")
    assert client.get(ME).status_code == 401
    assert client.get(ME, headers=bearer(cookie)).status_code == 401
