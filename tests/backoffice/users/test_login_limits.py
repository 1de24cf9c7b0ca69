"""Log-in limits: past a number of failed log-ins per account or per client address, log-in is
answered 429 with Retry-After (API and web page) until the window ends, whatever the password;
lock-outs are audited; the counters live in the database all office processes share."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col

from backoffice.api.main import create_app
from backoffice.core.config import Settings
from backoffice.models import RateLimitCounter
from backoffice.services import users
from backoffice.services.errors import Unauthenticated
from tests.backoffice.users.helpers import PASSWORD, audit_rows, make_user, web_log_in

TOKEN = "/api/v1/auth/token"


def _try(client: TestClient, username: str, password: str) -> int:
    return client.post(TOKEN, data={"username": username, "password": password}).status_code


PAST = datetime(2000, 1, 1, tzinfo=UTC)


def _end_windows(engine: Engine, but_the_hour: bool = False) -> None:
    """Time passes: every rate-limit window has ended (or all but the hour-long ones)."""
    ended = update(RateLimitCounter).values(expires_at=PAST)
    if but_the_hour:
        ended = ended.where(col(RateLimitCounter.key).not_like("%/1/hour"))
    with engine.begin() as connection:
        connection.execute(ended)


def test_fifty_wrong_passwords_lock_the_account_and_then_the_right_one_waits(
    client: TestClient, session: Session, engine: Engine
) -> None:
    make_user(session, "wang01")
    codes = [_try(client, "wang01", f"guess-{n:04d}") for n in range(50)]
    assert codes[:5] == [401] * 5
    assert set(codes[5:]) == {429}

    reply = client.post(TOKEN, data={"username": "wang01", "password": PASSWORD})
    assert reply.status_code == 429
    assert reply.json()["code"] == "too_many_attempts"
    assert "for this account" in reply.json()["message"]
    assert 0 < int(reply.headers["Retry-After"]) <= 300

    # The lock-out is audited once, when it began, not once per refused attempt.
    locks = audit_rows(session, "login_account", "wang01")
    assert [(e.action, e.to_status) for e in locks] == [("lock", "locked")]
    assert "5 per 5 minute" in (locks[0].reason or "")
    assert PASSWORD not in (locks[0].reason or "")

    # Attempts refused for the account's lock-out were not held against the address.
    make_user(session, "li02")
    assert _try(client, "li02", PASSWORD) == 200

    _end_windows(engine)
    assert _try(client, "wang01", PASSWORD) == 200


def test_the_hourly_limit_outlasts_the_short_one(
    client: TestClient, session: Session, engine: Engine
) -> None:
    make_user(session, "zhao03")
    for _ in range(4):
        assert [_try(client, "zhao03", f"guess-{n}") for n in range(5)] == [401] * 5
        assert _try(client, "zhao03", "guess-x") == 429
        _end_windows(engine, but_the_hour=True)
    # 20 failures within the hour: locked for the rest of the hour, not just five minutes.
    reply = client.post(TOKEN, data={"username": "zhao03", "password": PASSWORD})
    assert reply.status_code == 429
    assert int(reply.headers["Retry-After"]) > 300


def test_a_successful_log_in_forgets_the_account_failures(
    client: TestClient, session: Session
) -> None:
    make_user(session, "sun04")
    assert [_try(client, "sun04", f"typo-{n}") for n in range(4)] == [401] * 4
    assert _try(client, "sun04", PASSWORD) == 200
    assert [_try(client, "sun04", f"typo-{n}") for n in range(4)] == [401] * 4
    assert _try(client, "sun04", PASSWORD) == 200


@pytest.fixture
def address_limited(settings: Settings) -> Settings:
    return settings.model_copy(update={"login_limits_per_address": "6/5 minutes"})


@pytest.fixture
def office(address_limited: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(address_limited), client=("192.0.2.7", 50000)) as client:
        yield client


def test_failures_from_one_address_lock_it_and_own_log_ins_do_not_reset_it(
    office: TestClient, address_limited: Settings, session: Session
) -> None:
    make_user(session, "mine05")
    for n in range(6):
        make_user(session, f"other{n:02d}")
    # One wrong password for each of six accounts (no account reaches its own limit), with the
    # attacker's own account logging in successfully in between.
    for n in range(6):
        assert _try(office, f"other{n:02d}", "guess-1234") == 401
        if n < 5:
            assert _try(office, "mine05", PASSWORD) == 200

    reply = office.post(TOKEN, data={"username": "mine05", "password": PASSWORD})
    assert reply.status_code == 429
    assert "from this address" in reply.json()["message"]
    locks = audit_rows(session, "login_address", "192.0.2.7")
    assert [e.action for e in locks] == ["lock"]

    # Another address is not affected.
    with TestClient(create_app(address_limited), client=("198.51.100.3", 50000)) as elsewhere:
        assert _try(elsewhere, "mine05", PASSWORD) == 200


def test_two_office_processes_count_against_the_same_limit(
    settings: Settings, session: Session
) -> None:
    """Two apps with their own engines stand for two processes behind a proxy."""
    make_user(session, "qian06")
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        codes = [_try(first if n % 2 else second, "qian06", "guess-5678") for n in range(6)]
        assert codes == [401] * 5 + [429]
        assert _try(first, "qian06", PASSWORD) == 429
        assert _try(second, "qian06", PASSWORD) == 429


def test_the_web_log_in_shows_the_lock_out_and_when_to_retry(
    client: TestClient, session: Session
) -> None:
    make_user(session, "zhou07")
    for _ in range(5):
        assert web_log_in(client, "zhou07", "wrong-password").status_code == 401
    reply = web_log_in(client, "zhou07", PASSWORD)
    assert reply.status_code == 429
    assert 0 < int(reply.headers["Retry-After"]) <= 300
    assert "登录失败次数过多" in reply.text
    assert "请于北京时间" in reply.text and "之后重试" in reply.text
    assert "haoka_session" not in reply.headers.get("set-cookie", "")
    # The API says the same: the web page and the API count together.
    assert _try(client, "zhou07", PASSWORD) == 429


def test_unknown_usernames_are_limited_like_real_ones(client: TestClient) -> None:
    codes = [_try(client, "nobody", f"guess-{n}") for n in range(6)]
    assert codes == [401] * 5 + [429]


def test_odd_usernames_are_refused_plainly_and_counted(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """An overlong name, control characters, a NUL (which PostgreSQL refuses in text): a
    failed log-in like any other, never a server error."""
    for name in ("x" * 500, "\x1b[31m"):
        reply = client.post(TOKEN, data={"username": name, "password": "guess-0000"})
        assert (reply.status_code, reply.json()["code"]) == (401, "bad_credentials")
    codes = [_try(client, "x" * 500, "guess-0000") for _ in range(5)]
    assert codes == [401] * 4 + [429]
    # The HTTP layer refuses a NUL before; the service copes with one by itself too.
    with pytest.raises(Unauthenticated):
        users.log_in(session, "ad\x00min", "guess-0000", "192.0.2.1", settings)
