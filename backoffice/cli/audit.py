"""Audit commands: sealing the audit log into its hash chain and verifying the chain."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from backoffice.cli.common import console, errors, open_session
from backoffice.domain.audit import Anchor
from backoffice.services import audit
from backoffice.services.audit import ChainReport

commands = typer.Typer(
    name="audit", help="The audit log's hash chain: seal and verify.", no_args_is_help=True
)


def _anchor(text: str | None, hint: str = "--anchor") -> Anchor | None:
    if text is None:
        return None
    try:
        return Anchor.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from exc


def _last_anchor(path: Path) -> Anchor | None:
    """The anchor on the file's last line (`<time> SEQ:HASH`), if it has one."""
    if not path.exists():
        return None
    lines = path.read_text(encoding="utf-8").split()
    return _anchor(lines[-1], f"--anchor-file {path}") if lines else None


@commands.command("seal")
def seal_command() -> None:
    """Seal the rows written since the last round (the worker does this every few seconds)
    and print the chain's anchor."""
    with open_session() as session:
        sealing = audit.seal(session)
    console.print(f"sealed {sealing.sealed} rows; anchor {sealing.anchor or 'none (empty log)'}")


def _print(report: ChainReport) -> None:
    walk = report.walk
    if report.sealed_now:
        console.print(f"sealed {report.sealed_now} rows first")
    if walk.broken is not None:
        b = walk.broken
        errors.print(
            f"[red]chain broken[/red] at row {b.seq} (id {b.id}), {b.kind.value}: {b.message}; "
            f"the {walk.rows} rows before it are intact",
            highlight=False,
        )
    else:
        console.print(f"chain intact: {walk.rows} {'row' if walk.rows == 1 else 'rows'}")
    if report.anchor_problem:
        errors.print(f"[red]anchor[/red]: {report.anchor_problem}", highlight=False)
    if report.stale_unsealed and report.oldest_unsealed is not None:
        oldest_id, oldest_at = report.oldest_unsealed
        errors.print(
            f"[red]unsealed[/red]: {report.stale_unsealed} rows older than "
            f"{int(report.unsealed_after.total_seconds())} s are not in the chain (oldest: id "
            f"{oldest_id} at {oldest_at:%Y-%m-%d %H:%M:%S} UTC); is the worker running?",
            highlight=False,
        )
    # Printed last, to be recorded outside the database and passed back as --anchor.
    console.print(f"anchor {walk.last or 'none (nothing sealed)'}", highlight=False)


@commands.command("verify")
def verify_command(
    anchor: Annotated[
        str | None,
        typer.Option(
            help="SEQ:HASH printed by an earlier verify (or the worker's log): proves that "
            "no row up to it changed and that none was cut off the end"
        ),
    ] = None,
    seal: Annotated[
        bool, typer.Option(help="seal pending rows first (--no-seal for a read-only role)")
    ] = True,
    anchor_file: Annotated[
        Path | None,
        typer.Option(
            help="a file of anchors kept away from the database (another host, write-once "
            "storage): checked against its last line unless --anchor is given, and the new "
            "anchor appended when the chain is intact"
        ),
    ] = None,
    unsealed_after: Annotated[
        int,
        typer.Option(min=1, help="seconds after which a row not yet in the chain is reported"),
    ] = 600,
) -> None:
    """Walk the audit log's hash chain from its first row; report the first row changed,
    removed or inserted (by sequence number and id) and exit 1 if anything is wrong."""
    expected = _anchor(anchor) or (_last_anchor(anchor_file) if anchor_file else None)
    with open_session() as session:
        report = audit.verify(session, expected, timedelta(seconds=unsealed_after), seal)
    _print(report)
    if not report.intact:
        raise typer.Exit(1)
    if anchor_file is not None and report.walk.last is not None:
        with anchor_file.open("a", encoding="utf-8") as out:
            out.write(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {report.walk.last}\n")
