"""Database commands: the least-privileged role the application connects as (PostgreSQL)."""

from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from backoffice.cli.common import console, fail
from backoffice.core.config import Settings, get_settings
from backoffice.db import make_engine
from backoffice.services.db_roles import Grants, grant_app_role
from backoffice.services.errors import ServiceError

commands = typer.Typer(name="db", help="The database's roles (PostgreSQL).", no_args_is_help=True)


def separate_app_role(settings: Settings) -> bool:
    """Whether migrations and the app connect as two different PostgreSQL users."""
    if not settings.migration_database_url or settings.is_sqlite:
        return False
    owner = make_url(settings.migration_database_url).username
    return make_url(settings.database_url).username not in (None, owner)


def grant_for(settings: Settings, role: str | None = None) -> Grants:
    """Grants the app's role (by default DATABASE_URL's user, with its password) what it
    needs, connected as HAOKA_MIGRATION_DATABASE_URL's user (the tables' owner)."""
    app_url = make_url(settings.database_url)
    role = role or app_url.username
    if not role:
        raise ServiceError("DATABASE_URL names no user; name the role", "app_role_refused")
    # The password goes along only when DATABASE_URL is the role's own.
    password = app_url.password if app_url.username == role else None
    engine = make_engine(settings.migration_database_url or settings.database_url)
    try:
        with engine.begin() as connection:
            return grant_app_role(connection, role, password)
    finally:
        engine.dispose()


def grant_and_print(settings: Settings, role: str | None = None) -> None:
    """grant_for, its outcome printed; a refusal ends the command with its reason."""
    try:
        grants = grant_for(settings, role)
    except ServiceError as exc:
        fail(exc)
        return
    what = "created" if grants.created else "updated"
    secret = ", password set" if grants.password_set else ""
    console.print(
        f"role {grants.role} {what}{secret}: read and write on {len(grants.read_write)} tables, "
        f"append only (SELECT, INSERT) on {', '.join(grants.append_only) or 'none'}, "
        f"read only on {', '.join(grants.read_only) or 'none'}; no TRUNCATE, no DDL",
        highlight=False,
    )


@commands.command("grant-app-role")
def grant_app_role_command(
    role: Annotated[
        str | None,
        typer.Argument(help="the application's role (default: the user in DATABASE_URL)"),
    ] = None,
) -> None:
    """Create or update the application's PostgreSQL role: rows only (SELECT, INSERT, UPDATE,
    DELETE; SELECT and INSERT on the append-only tables), no TRUNCATE, no DDL, not superuser.
    Runs as HAOKA_MIGRATION_DATABASE_URL's user; `migrate` repeats it after each upgrade."""
    grant_and_print(get_settings(), role)
