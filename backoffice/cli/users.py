"""Back-office user commands: create, list, deactivate and reactivate users, reset a password,
set a dealer clerk's counter PIN. Each is audited with the command's actor."""

from typing import Annotated

import typer
from rich.table import Table

from backoffice.cli.common import console, errors, open_session
from backoffice.contracts.users import UserCreate
from backoffice.domain.users import Role
from backoffice.services import users

commands = typer.Typer()


def _secret(envvar: str, help: str) -> object:
    """A password or PIN option: asked twice without echo, or read from `envvar` (scripts);
    never a plain command-line argument, which other users of the machine could read."""
    return typer.Option(
        prompt=True, hide_input=True, confirmation_prompt=True, envvar=envvar, help=help
    )


@commands.command("create-user")
def create_user(
    ctx: typer.Context,
    username: str,
    role: Annotated[Role, typer.Option(help="what the user may do")],
    full_name: Annotated[str, typer.Option()] = "",
    password: Annotated[str, _secret("HAOKA_NEW_PASSWORD", "the new user's password")] = "",
) -> None:
    """Create a back-office user."""
    try:
        request = UserCreate(username=username, password=password, role=role, full_name=full_name)
    except ValueError as exc:
        errors.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(1) from exc
    with open_session() as session:
        user = users.create_user(session, request, ctx.obj.name)
    console.print(f"created {user.username} ({user.role})")


@commands.command("list-users")
def list_users() -> None:
    """List the back-office users with their role and whether they may log in."""
    table = Table("username", "name", "role", "active")
    with open_session() as session:
        for user in users.list_users(session):
            active = "yes" if user.is_active else "no"
            table.add_row(user.username, user.full_name, user.role, active)
    console.print(table)


@commands.command("deactivate-user")
def deactivate_user(
    ctx: typer.Context,
    username: str,
    reason: Annotated[str, typer.Option(help="why, for the audit log")] = "",
) -> None:
    """Stop a user: the user's tokens end at once, and a dealer clerk drops out of the
    terminals' next pull."""
    with open_session() as session:
        users.set_active(session, username, False, ctx.obj.name, reason)
    console.print(f"{username} deactivated")


@commands.command("reactivate-user")
def reactivate_user(
    ctx: typer.Context,
    username: str,
    reason: Annotated[str, typer.Option(help="why, for the audit log")] = "",
) -> None:
    """Let a deactivated user log in again (with a new log-in: old tokens stay ended)."""
    with open_session() as session:
        users.set_active(session, username, True, ctx.obj.name, reason)
    console.print(f"{username} reactivated")


@commands.command("reset-password")
def reset_password(
    ctx: typer.Context,
    username: str,
    password: Annotated[str, _secret("HAOKA_NEW_PASSWORD", "the new password")] = "",
) -> None:
    """Give a user a new password; the user's tokens end."""
    with open_session() as session:
        users.reset_password(session, username, password, ctx.obj.name)
    console.print(f"password of {username} reset")


@commands.command("set-pin")
def set_pin(
    ctx: typer.Context,
    username: str,
    pin: Annotated[str, _secret("HAOKA_NEW_PIN", "4 to 8 digits")] = "",
) -> None:
    """Set a dealer clerk's or manager's counter PIN (the terminals take it at their next
    pull)."""
    with open_session() as session:
        users.set_pin(session, username, pin, ctx.obj.name)
    console.print(f"PIN of {username} set")
