"""`haoka-office`: the back office's command line, one command group per area (users,
billing, statistics, audit, keys, and running the system and its database roles)."""

import getpass
from typing import Annotated

import typer

from backoffice.cli import audit, billing, db, jobs, keys, statistics, system
from backoffice.cli import users as user_commands
from backoffice.cli.common import Actor

app = typer.Typer(help="HaoKa back office.", no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def main(
    ctx: typer.Context,
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as", help="back-office user to record as the actor (default: cli:<os user>)"
        ),
    ] = None,
) -> None:
    ctx.obj = Actor(as_user or f"cli:{getpass.getuser()}", as_user is not None)


for group in (system, statistics, user_commands, billing, jobs, audit, db, keys):
    app.add_typer(group.commands)
