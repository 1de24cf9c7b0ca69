"""The user commands of haoka-office: deactivate and reactivate, reset a password, set a PIN,
list; secrets asked without echo, each change audited with the command's actor."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from backoffice.cli import app
from backoffice.contracts.channel import StaffCreate
from backoffice.core.config import Settings, get_settings
from backoffice.core.security import verify_password
from backoffice.domain.users import Role
from backoffice.models import User
from backoffice.services.channel import dealers
from tests.backoffice.channel.helpers import channel
from tests.backoffice.users.helpers import PASSWORD, audit_rows, bearer, make_user, token_of

runner = CliRunner()


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HAOKA_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _user(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).one()
    session.refresh(user)
    return user


def test_an_admin_manages_users_from_the_command_line(
    cli_env: None, client: TestClient, session: Session
) -> None:
    make_user(session, "wang01")
    token = token_of(client, "wang01")

    off = runner.invoke(app, ["--as", "admin", "deactivate-user", "wang01", "--reason", "left"])
    assert off.exit_code == 0, off.output
    assert client.get("/api/v1/users/me", headers=bearer(token)).status_code == 401
    listed = runner.invoke(app, ["list-users"])
    assert "wang01" in listed.output and "no" in listed.output

    again = runner.invoke(app, ["deactivate-user", "wang01"])
    assert again.exit_code == 1 and "user_already_inactive" in again.output
    on = runner.invoke(app, ["reactivate-user", "wang01"])
    assert on.exit_code == 0, on.output

    weak = runner.invoke(app, ["reset-password", "wang01"], input="short\nshort\n")
    assert weak.exit_code == 1 and "weak_password" in weak.output
    typed = "new-pass-word-1\nnew-pass-word-1\n"
    reset = runner.invoke(app, ["--as", "admin", "reset-password", "wang01"], input=typed)
    assert reset.exit_code == 0, reset.output
    assert "new-pass-word-1" not in reset.output
    assert verify_password(_user(session, "wang01").password_hash, "new-pass-word-1")

    rows = audit_rows(session, "user", _user(session, "wang01").id)
    actions = [(r.action, r.actor) for r in rows]
    assert actions[1:] == [
        ("deactivate", "admin"),
        ("reactivate", actions[2][1]),
        ("password_reset", "admin"),
    ]
    assert actions[2][1].startswith("cli:")


def test_a_clerks_pin_is_set_from_the_command_line(cli_env: None, session: Session) -> None:
    channel(session)
    dealers.create_staff(
        session,
        "D1",
        StaffCreate(username="clerk01", password=PASSWORD, role=Role.clerk, pin="1357"),
        "sales1",
    )
    done = runner.invoke(app, ["set-pin", "clerk01"], env={"HAOKA_NEW_PIN": "2468"})
    assert done.exit_code == 0, done.output
    assert verify_password(_user(session, "clerk01").pin_hash or "", "2468")
    make_user(session, "billing01")
    refused = runner.invoke(app, ["set-pin", "billing01"], env={"HAOKA_NEW_PIN": "2468"})
    assert refused.exit_code == 1 and "no_pin" in refused.output
