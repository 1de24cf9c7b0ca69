"""Statistics commands: rebuilding the sales summaries."""

import typer

from backoffice.cli.common import console, open_session
from backoffice.services.statistics import summaries

commands = typer.Typer()


@commands.command("rebuild-statistics")
def rebuild_statistics() -> None:
    """Recompute the sales summaries from the sales recorded (after a restore, say); the
    terminals' pushes wait meanwhile."""
    with open_session() as session:
        rows = summaries.rebuild(session)
        session.commit()
    console.print(f"sales summaries rebuilt: {rows} day × outlet × product rows")
