"""Test fixtures: every database test runs on SQLite and on PostgreSQL, each test on its own
freshly migrated database (copied from a template migrated once per run)."""

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from backoffice import migrate
from backoffice.api.main import create_app
from backoffice.contracts.users import UserCreate
from backoffice.core.config import Settings
from backoffice.db import make_engine
from backoffice.domain.users import Role
from backoffice.services import users

BACKENDS = ("sqlite", "postgresql")
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "correct-horse-9"


def _pg_admin_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


class Templates:
    """Migrates one template database per backend, lazily, and hands out copies."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.token = uuid.uuid4().hex[:8]
        self._sqlite: Path | None = None
        self._pg: str | None = None
        self._pg_server: str | None = None

    def pg_server(self) -> str:
        if self._pg_server is None:
            url = os.environ.get("HAOKA_TEST_POSTGRES_URL", DEFAULT_PG)
            try:
                psycopg.connect(_pg_admin_dsn(url), connect_timeout=3).close()
            except psycopg.OperationalError as exc:
                if os.environ.get("HAOKA_REQUIRE_POSTGRES"):
                    pytest.fail(f"PostgreSQL required but not reachable at {url}: {exc}")
                pytest.skip(f"PostgreSQL not reachable at {url} (set HAOKA_TEST_POSTGRES_URL)")
            self._pg_server = url
        return self._pg_server

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(_pg_admin_dsn(self.pg_server()), autocommit=True)

    def sqlite_copy(self, target: Path) -> str:
        if self._sqlite is None:
            self._sqlite = self.tmp / "template.db"
            migrate.upgrade(f"sqlite:///{self._sqlite}")
        shutil.copy(self._sqlite, target)
        return f"sqlite:///{target}"

    def pg_copy(self) -> str:
        server = self.pg_server()
        if self._pg is None:
            self._pg = f"haoka_tmpl_{self.token}"
            with self._admin() as admin:
                admin.execute(f'CREATE DATABASE "{self._pg}"')
            migrate.upgrade(_with_database(server, self._pg))
        name = f"haoka_t_{self.token}_{uuid.uuid4().hex[:8]}"
        with self._admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._pg}"')
        return _with_database(server, name)

    def empty(self, backend: str, folder: Path) -> str:
        """A new database with nothing in it, for a test that migrates it to an old revision
        itself (drop() it afterwards)."""
        if backend == "sqlite":
            return f"sqlite:///{folder / 'old.db'}"
        name = f"haoka_e_{self.token}_{uuid.uuid4().hex[:8]}"
        with self._admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return _with_database(self.pg_server(), name)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self._pg is not None:
            self.drop(_with_database(self.pg_server(), self._pg))


def alembic_step(engine: Engine, action: str, revision: str) -> None:
    """Runs alembic's `action` ("upgrade" or "downgrade") to `revision` on the engine's
    database, in one transaction: the migration tests' step from an old schema."""
    with engine.begin() as connection:
        config = migrate.alembic_config(str(engine.url.render_as_string(hide_password=False)))
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    t = Templates(tmp_path_factory.mktemp("templates"))
    yield t
    t.close()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, templates: Templates, tmp_path: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        yield templates.sqlite_copy(tmp_path / "haoka.db")
        return
    url = templates.pg_copy()
    yield url
    templates.drop(url)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def login(client: TestClient, settings: Settings) -> Callable[[Role], dict[str, str]]:
    """Creates a user of the given role (once) and returns its Authorization header."""
    engine = make_engine(settings.database_url)
    made: dict[Role, dict[str, str]] = {}

    def headers(role: Role) -> dict[str, str]:
        if role not in made:
            with Session(engine) as s:
                users.create_user(
                    s, UserCreate(username=f"{role.value}1", password=PASSWORD, role=role), "test"
                )
            reply = client.post(
                "/api/v1/auth/token", data={"username": f"{role.value}1", "password": PASSWORD}
            )
            assert reply.status_code == 200, reply.text
            made[role] = {"Authorization": f"Bearer {reply.json()['access_token']}"}
        return made[role]

    yield headers  # type: ignore[misc]
    engine.dispose()
