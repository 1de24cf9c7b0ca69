"""Back-office user commands."""

from typing import Annotated

import typer

from backoffice.cli.common import console, errors, open_session
from backoffice.contracts.users import UserCreate
from backoffice.domain.users import Role
from backoffice.services import users

commands = typer.Typer()


@commands.command("create-user")
def create_user(
    ctx: typer.Context,
    username: str,
    role: Annotated[Role, typer.Option(help="what the user may do")],
    full_name: Annotated[str, typer.Option()] = "",
    password: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, confirmation_prompt=True, envvar="HAOKA_NEW_PASSWORD"
        ),
    ] = "",
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
