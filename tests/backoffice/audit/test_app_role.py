"""The application's least-privileged PostgreSQL role: `haoka-office db grant-app-role` (and
`migrate` after it) gives it rows only; with it the counter and the sales centre work, and
the audit log and ledgers can be appended to and read, never rewritten or emptied."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session
from typer.testing import CliRunner

from backoffice.cli import app
from backoffice.core.config import get_settings
from backoffice.db import make_engine
from backoffice.services import audit
from tests.backoffice.audit.helpers import write
from tests.backoffice.channel.helpers import (
    allocate_numbers,
    channel,
    pool,
    push,
    sale_event,
    stocked_numbers,
)
from tests.conftest import Templates

runner = CliRunner()
PASSWORD = "app-Pa55'word"


@pytest.fixture
def pg_url(templates: Templates) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own (roles are PostgreSQL's alone)."""
    url = templates.pg_copy()
    yield url
    templates.drop(url)


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    """Connected as the tables' owner, who runs the migrations."""
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def app_role(engine: Engine) -> Iterator[str]:
    """A role name of this test's own: roles are shared by every database on the server."""
    role = f"haoka_app_{uuid.uuid4().hex[:10]}"
    yield role
    with engine.begin() as connection:
        if connection.exec_driver_sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'").first():
            connection.exec_driver_sql(f"DROP OWNED BY {role}")
            connection.exec_driver_sql(f"DROP ROLE {role}")


def _app_url(database_url: str, role: str) -> str:
    return make_url(database_url).set(username=role, password=PASSWORD).render_as_string(False)


@pytest.fixture
def two_urls(monkeypatch: pytest.MonkeyPatch, pg_url: str, app_role: str) -> Iterator[str]:
    """The environment of a deployment: the app's URL and the owner's for migrations."""
    monkeypatch.setenv("DATABASE_URL", _app_url(pg_url, app_role))
    monkeypatch.setenv("HAOKA_MIGRATION_DATABASE_URL", pg_url)
    get_settings.cache_clear()
    yield _app_url(pg_url, app_role)
    get_settings.cache_clear()


@pytest.fixture
def app_engine(two_urls: str, app_role: str) -> Iterator[Engine]:
    granted = runner.invoke(app, ["db", "grant-app-role"])
    assert granted.exit_code == 0, granted.output
    assert f"role {app_role} created, password set" in granted.output
    assert "append only (SELECT, INSERT) on audit_entry, dealer_account_entry" in granted.output
    engine = make_engine(two_urls)
    yield engine
    engine.dispose()


def test_the_app_role_sells_allocates_and_seals(app_engine: Engine) -> None:
    with Session(app_engine, expire_on_commit=False) as session:
        role = session.connection().exec_driver_sql("SELECT current_user").scalar_one()
        assert role.startswith("haoka_app_")
        pool(session, end=99)
        shop = channel(session)
        number = stocked_numbers(session, shop.outlet_code, 3)[0]
        allocated = allocate_numbers(session, shop.outlet_code, 5)
        assert allocated.kind == "DN" and len(allocated.lines) >= 1
        results = push(session, shop, sale_event(shop.terminal_no, 1, [("number", number, 5_000)]))
        assert [r.status for r in results] == ["accepted"], results
        sealing = audit.seal(session)
        assert sealing.sealed > 5
        report = audit.verify(session)
        assert report.intact and report.walk.rows == sealing.sealed


@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE audit_entry",
        "TRUNCATE mobile_number",
        "UPDATE audit_entry SET actor = 'mallory'",
        "DELETE FROM audit_entry",
        "UPDATE dealer_ledger_entry SET amount_fen = 0",
        "DELETE FROM dealer_account_entry",
        "SET session_replication_role = replica",
        "ALTER TABLE audit_entry DISABLE TRIGGER USER",
        "DROP TRIGGER audit_entry_seal_only ON audit_entry",
        "CREATE TABLE stash (id int)",
        "ALTER TABLE mobile_number ADD COLUMN note text",
        "UPDATE alembic_version SET version_num = '0001'",
    ],
)
def test_the_app_role_cannot_rewrite_history_or_the_schema(
    app_engine: Engine, statement: str
) -> None:
    with Session(app_engine) as session:
        write(session, 1)
        with pytest.raises(DBAPIError, match=r"permission denied|must be owner"):
            session.connection().exec_driver_sql(statement)


def test_migrate_grants_the_tables_added_since(
    app_engine: Engine, engine: Engine, app_role: str
) -> None:
    with engine.begin() as owner:
        owner.exec_driver_sql("CREATE TABLE added_later (id int PRIMARY KEY)")
    with app_engine.connect() as connection, pytest.raises(DBAPIError, match="permission"):
        connection.exec_driver_sql("INSERT INTO added_later VALUES (1)")
    migrated = runner.invoke(app, ["migrate"])
    assert migrated.exit_code == 0, migrated.output
    assert f"role {app_role} updated, password set" in migrated.output
    with app_engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO added_later VALUES (1)")


def test_roles_that_cannot_be_limited_are_refused(two_urls: str, engine: Engine) -> None:
    owner = runner.invoke(app, ["db", "grant-app-role", "postgres"])
    assert owner.exit_code == 1
    assert "runs the migrations and owns the tables" in owner.output
    superuser = f"haoka_su_{uuid.uuid4().hex[:8]}"
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE ROLE {superuser} SUPERUSER")
    try:
        refused = runner.invoke(app, ["db", "grant-app-role", superuser])
        assert refused.exit_code == 1
        assert "(app_role_refused)" in refused.output and "is a superuser" in refused.output
        bad = runner.invoke(app, ["db", "grant-app-role", "Robert'); DROP TABLE x;--"])
        assert bad.exit_code == 1 and "use lower-case letters" in bad.output
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP ROLE {superuser}")


def test_a_schema_public_may_create_in_is_refused(two_urls: str, engine: Engine) -> None:
    """PostgreSQL 14 and older let PUBLIC create in the public schema: the app role would keep
    DDL through it, so granting refuses until the owner revokes it."""
    with engine.begin() as connection:
        connection.exec_driver_sql("GRANT CREATE ON SCHEMA public TO PUBLIC")
    refused = runner.invoke(app, ["db", "grant-app-role"])
    assert refused.exit_code != 0
    assert "REVOKE CREATE ON SCHEMA public FROM PUBLIC" in refused.output
    with engine.begin() as connection:
        connection.exec_driver_sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    assert runner.invoke(app, ["db", "grant-app-role"]).exit_code == 0


def test_sqlite_has_no_roles_and_says_so(
    templates: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", templates.sqlite_copy(tmp_path / "haoka.db"))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["db", "grant-app-role", "haoka_app"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "PostgreSQL matter; SQLite is protected by its file" in result.output


def test_compose_runs_the_office_as_the_app_role_and_only_migrate_as_the_owner() -> None:
    compose = Path(__file__).resolve().parents[3] / "docker" / "compose.yaml"
    services = yaml.safe_load(compose.read_text())["services"]
    owner = make_url(services["migrate"]["environment"]["HAOKA_MIGRATION_DATABASE_URL"])
    assert owner.username == services["db"]["environment"]["POSTGRES_USER"]
    for name in ("migrate", "office", "worker"):
        environment = services[name]["environment"]
        assert make_url(environment["DATABASE_URL"]).username == "haoka_app"
        if name != "migrate":
            assert "HAOKA_MIGRATION_DATABASE_URL" not in environment
            assert "POSTGRES_PASSWORD" not in str(environment)
