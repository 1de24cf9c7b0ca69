"""Running the system: migrations, the HTTP server, the background worker and the demo."""

from pathlib import Path
from typing import Annotated

import typer

from backoffice import migrate
from backoffice.cli import db
from backoffice.cli.common import console
from backoffice.core.config import get_settings

commands = typer.Typer()


@commands.command("migrate")
def migrate_command() -> None:
    """Create or upgrade the database schema, as HAOKA_MIGRATION_DATABASE_URL's user if set;
    then, if DATABASE_URL names another user, grant that role what the app needs."""
    settings = get_settings()
    url = settings.migration_database_url or settings.database_url
    migrate.upgrade(url)
    console.print(f"database at {url.split('@')[-1]} is up to date")
    if db.separate_app_role(settings):
        db.grant_and_print(settings)


@commands.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the back office HTTP server."""
    import uvicorn

    from backoffice.core.logging import log_config

    uvicorn.run(
        "backoffice.api.asgi:app", host=host, port=port, workers=workers, log_config=log_config()
    )


@commands.command()
def worker(
    interval: Annotated[float, typer.Option(help="seconds between rounds")] = 5.0,
) -> None:
    """Run the background work beside the server: number activations to provisioning (signed
    webhook, retries), expired reservations released and new audit rows sealed into the
    hash chain (the anchor logged)."""
    from backoffice import worker as background
    from backoffice.core import logging as logs

    logs.configure()
    background.run_forever(get_settings(), interval)


@commands.command()
def demo(
    port: Annotated[int, typer.Option()] = 8000,
    data_dir: Annotated[Path, typer.Option()] = Path("var/demo"),
) -> None:
    """Start the back office on a fresh SQLite database with demo data."""
    from backoffice.demo import run_demo

    run_demo(data_dir, port)
