"""Background jobs from the command line: the same jobs the pages and the API show (imports,
releases, regrades started from a page), and running the queued ones here."""

from typing import Annotated

import typer

from backoffice.cli.common import Actor, console, open_session
from backoffice.core.config import get_settings
from backoffice.db import make_engine
from backoffice.services import job_kinds, jobs

commands = typer.Typer(
    name="jobs", help="Background jobs: list, show, run the queued ones.", no_args_is_help=True
)


def _actor(ctx: typer.Context) -> str | None:
    """Whose jobs: `--as <user>` shows that user's, else everyone's."""
    actor: Actor = ctx.obj
    return actor.name if actor.is_user else None


@commands.command("list")
def list_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="how many, newest first")] = 20,
) -> None:
    """The newest jobs: id, state, progress, who started it, when (UTC), what it does."""
    with open_session() as session:
        rows, _ = jobs.list_jobs(session, _actor(ctx), None, limit)
        for job in rows:
            seen = jobs.describe(job)
            done, total = seen["done"], seen["total"]
            progress = f"{done:,}/{total:,}" if total else f"{done:,}"
            console.print(
                f"{job.id}  {job.state:<11} {progress:>15}  {job.created_by:<16} "
                f"{job.created_at:%Y-%m-%d %H:%M:%S}Z  {seen['title']}",
                highlight=False,
            )


@commands.command("show")
def show_command(ctx: typer.Context, job_id: str) -> None:
    """One job: its progress, and its result or why it failed."""
    with open_session() as session:
        seen = jobs.describe(jobs.get(session, job_id, _actor(ctx)))
    console.print(f"{seen['title']} ({seen['kind']}): {seen['state']}", highlight=False)
    done, total = seen["done"], seen["total"]
    console.print(f"progress: {done:,}" + (f" of {total:,}" if total else ""), highlight=False)
    for line in seen["result"]:  # type: ignore[attr-defined]
        console.print(f"  {line['label']}: {line['value']}", highlight=False)
    if seen["result_link"]:
        console.print(f"see {seen['result_link']}", highlight=False)
    if seen["error"]:
        console.print(f"[red]{seen['error']}[/red]", highlight=False)
        raise typer.Exit(1)


@commands.command("run")
def run_command() -> None:
    """Run the queued jobs here, one after the other, until none is left (where the office
    processes run with HAOKA_RUN_JOBS=false and no worker runs)."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        jobs.mark_interrupted(engine)
        ran = job_kinds.run_pending(engine, settings)
    finally:
        engine.dispose()
    console.print(f"{ran} jobs run")
