"""What every command group of `haoka-office` shares: the consoles, the actor, a session whose
service errors end the command, and a progress bar."""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import Session

from backoffice.contracts.billing import (
    ImportReport,
)
from backoffice.core.config import get_settings
from backoffice.db import make_engine
from backoffice.services.billing import imports
from backoffice.services.errors import ImportRejected, ServiceError

# Soft wrap: messages name files, lines and values; they must not be broken mid-word.
console = Console(soft_wrap=True)


errors = Console(stderr=True, soft_wrap=True)


@dataclass(frozen=True)
class Actor:
    """Who the audit log records: a named back-office user, or the operating-system user."""

    name: str
    is_user: bool


@contextmanager
def open_session(rejected_out: Path | None = None) -> Iterator[Session]:
    """A session whose service errors end the command; a refused import still writes its bad
    rows to `rejected_out`, so the clerk can fix them and import again."""
    engine = make_engine(get_settings().database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    except ServiceError as exc:
        fail(exc, rejected_out)
    finally:
        engine.dispose()


def fail(exc: ServiceError, rejected_out: Path | None = None) -> None:
    errors.print(f"[red]error[/red] ({exc.code}): {exc}", highlight=False)
    if isinstance(exc, ImportRejected) and isinstance(exc.report, ImportReport):
        print_report(exc.report, rejected_out)
    raise typer.Exit(1)


@contextmanager
def progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not sys.stderr.isatty(),
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def print_report(report: ImportReport, rejected_out: Path | None = None) -> None:
    console.print(
        f"{report.file}: {report.outcome}, {report.accepted_rows} of {report.total_rows} rows "
        f"imported, {report.rejected_rows} rejected"
        + (f", batch {report.batch_code}" if report.batch_code else ""),
        highlight=False,
    )
    if report.errors:
        table = Table("line", "column", "value", "reason", title="bad rows")
        for e in report.errors[:20]:
            table.add_row(str(e.line), e.column, e.value, e.reason)
        console.print(table)
        if report.rejected_rows > 20:
            console.print(f"… and {report.rejected_rows - 20} more")
    if rejected_out and report.rejected_rows:
        with open_session() as session:
            _, content = imports.rejected_rows(session, report.job_id)
        rejected_out.write_text(content, encoding="utf-8-sig")
        console.print(f"rejected rows written to {rejected_out}")
