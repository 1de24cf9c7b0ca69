"""`haoka-office`: the back office's command line (migrations, users, imports, release, server)."""

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import Session

from backoffice import migrate
from backoffice.contracts import (
    ImportReport,
    SegmentRequest,
    UserCreate,
    VoucherBatchTerms,
    VoucherGenerateRequest,
)
from backoffice.core.config import get_settings
from backoffice.core.crypto import PinCipher
from backoffice.db import make_engine
from backoffice.domain.roles import BILLING, Role, allows
from backoffice.services import (
    grading,
    imports,
    numbers,
    releases,
    sims,
    statistics,
    users,
    vouchers,
)
from backoffice.services.errors import ImportRejected, ServiceError
from shared.money import format_fen, parse_yuan

app = typer.Typer(help="HaoKa back office.", no_args_is_help=True, pretty_exceptions_enable=False)
# Soft wrap: messages name files, lines and values; they must not be broken mid-word.
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


@dataclass(frozen=True)
class Actor:
    """Who the audit log records: a named back-office user, or the operating-system user."""

    name: str
    is_user: bool


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


@contextmanager
def _session(rejected_out: Path | None = None) -> Iterator[Session]:
    """A session whose service errors end the command; a refused import still writes its bad
    rows to `rejected_out`, so the clerk can fix them and import again."""
    engine = make_engine(get_settings().database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    except ServiceError as exc:
        _fail(exc, rejected_out)
    finally:
        engine.dispose()


def _fail(exc: ServiceError, rejected_out: Path | None = None) -> None:
    errors.print(f"[red]error[/red] ({exc.code}): {exc.message}", highlight=False)
    if isinstance(exc, ImportRejected) and isinstance(exc.report, ImportReport):
        _print_report(exc.report, rejected_out)
    raise typer.Exit(1)


def _billing_actor(ctx: typer.Context, session: Session) -> str:
    """The actor for billing work; a named user must exist and hold the billing role."""
    actor: Actor = ctx.obj
    name = actor.name
    if actor.is_user:
        user = next((u for u in users.list_users(session) if u.username == name), None)
        if user is None or not allows(Role(user.role), BILLING):
            errors.print(f"[red]error[/red]: {name} is not a billing user")
            raise typer.Exit(1)
    return name


@contextmanager
def _progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
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


def _print_report(report: ImportReport, rejected_out: Path | None = None) -> None:
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
        with _session() as session:
            _, content = imports.rejected_rows(session, report.job_id)
        rejected_out.write_text(content, encoding="utf-8-sig")
        console.print(f"rejected rows written to {rejected_out}")


@app.command("migrate")
def migrate_command() -> None:
    """Create or upgrade the database schema."""
    url = get_settings().database_url
    migrate.upgrade(url)
    console.print(f"database at {url.split('@')[-1]} is up to date")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the back office HTTP server."""
    import uvicorn

    uvicorn.run("backoffice.api.asgi:app", host=host, port=port, workers=workers)


@app.command()
def worker(
    interval: Annotated[float, typer.Option(help="seconds between rounds")] = 5.0,
) -> None:
    """Run the background work beside the server: number activations to provisioning (signed
    webhook, retries) and expired reservations released."""
    import logging

    from backoffice import worker as background

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    background.run_forever(get_settings(), interval)


@app.command("rebuild-statistics")
def rebuild_statistics() -> None:
    """Recompute the sales summaries from the sales recorded (after a restore, say); the
    terminals' pushes wait meanwhile."""
    with _session() as session:
        rows = statistics.rebuild(session)
        session.commit()
    console.print(f"sales summaries rebuilt: {rows} day × outlet × product rows")


@app.command("create-user")
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
    with _session() as session:
        user = users.create_user(session, request, ctx.obj.name)
    console.print(f"created {user.username} ({user.role})")


@app.command("generate-numbers")
def generate_numbers(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Argument(help="leading digits, e.g. 1390575")],
    start: Annotated[int, typer.Argument(help="first tail, e.g. 0")],
    end: Annotated[int, typer.Argument(help="last tail, e.g. 9999")],
    code: Annotated[str | None, typer.Option(help="batch code (default PREFIX-DATE-NNN)")] = None,
) -> None:
    """Generate and grade the numbers of a segment."""
    try:
        request = SegmentRequest(prefix=prefix, start=start, end=end, code=code)
    except ValueError as exc:
        errors.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(1) from exc
    with _session() as session, _progress("numbers", end - start + 1) as tick:
        batch = numbers.generate_segment(session, request, _billing_actor(ctx, session), tick)
    console.print(
        f"batch {batch.code}: {batch.item_count} numbers {batch.first_msisdn}–{batch.last_msisdn}"
    )
    _print_grade_counts(batch.grade_counts)


def _print_grade_counts(counts: dict[str, int]) -> None:
    table = Table("grade", "numbers")
    for code, count in counts.items():
        table.add_row(code, str(count))
    console.print(table)


FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or XLSX file")]
SkipOpt = Annotated[
    bool, typer.Option("--skip-bad-rows", help="import the good rows, report the bad ones")
]
EncodingOpt = Annotated[str, typer.Option(help="encoding of a CSV file, e.g. gbk")]
RejectedOpt = Annotated[
    Path | None, typer.Option(help="write the rejected rows (with line and error) to this CSV")
]


@app.command("import-numbers")
def import_numbers(
    ctx: typer.Context,
    file: FileArg,
    skip_bad_rows: SkipOpt = False,
    encoding: EncodingOpt = "utf-8",
    code: Annotated[str | None, typer.Option(help="batch code")] = None,
    rejected_out: RejectedOpt = None,
) -> None:
    """Import numbers from a file (column msisdn / 号码) and grade them."""
    with _session(rejected_out) as session, _progress("numbers", None) as tick:
        report = numbers.import_numbers(
            session,
            file.read_bytes(),
            file.name,
            _billing_actor(ctx, session),
            skip_bad_rows=skip_bad_rows,
            encoding=encoding,
            code=code,
            progress=tick,
        )
    _print_report(report, rejected_out)


@app.command("import-sims")
def import_sims(
    ctx: typer.Context,
    file: FileArg,
    skip_bad_rows: SkipOpt = False,
    encoding: EncodingOpt = "utf-8",
    code: Annotated[str | None, typer.Option(help="batch code")] = None,
    rejected_out: RejectedOpt = None,
) -> None:
    """Import a batch of SIM cards from a file (columns iccid, imsi)."""
    with _session(rejected_out) as session, _progress("SIM cards", None) as tick:
        report = sims.import_sims(
            session,
            file.read_bytes(),
            file.name,
            _billing_actor(ctx, session),
            skip_bad_rows=skip_bad_rows,
            encoding=encoding,
            code=code,
            progress=tick,
        )
    _print_report(report, rejected_out)


@app.command("pair-sims")
def pair_sims(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Argument(exists=True, dir_okay=False, help="CSV/XLSX of msisdn, iccid")
    ] = None,
    numbers_batch: Annotated[str | None, typer.Option("--numbers", help="number batch")] = None,
    sims_batch: Annotated[str | None, typer.Option("--sims", help="SIM batch")] = None,
    skip_bad_rows: SkipOpt = False,
    encoding: EncodingOpt = "utf-8",
    rejected_out: RejectedOpt = None,
) -> None:
    """Pair numbers with SIM cards: from a file of pairs, or --numbers B --sims S in order."""
    with _session(rejected_out) as session:
        actor = _billing_actor(ctx, session)
        if file is not None:
            report = sims.import_pairs(
                session,
                file.read_bytes(),
                file.name,
                actor,
                skip_bad_rows=skip_bad_rows,
                encoding=encoding,
            )
            _print_report(report, rejected_out)
            return
        if not (numbers_batch and sims_batch):
            errors.print("[red]error[/red]: give a FILE of pairs, or both --numbers and --sims")
            raise typer.Exit(2)
        result = sims.pair_in_order(session, numbers_batch, sims_batch, actor)
    console.print(
        f"paired {result.paired}: {result.first_pair} … {result.last_pair}; "
        f"{result.unpaired_numbers} numbers and {result.unpaired_sims} SIM cards left unpaired"
    )


FaceOpt = Annotated[str, typer.Option(help="face value in yuan, e.g. 50")]
DealerOpt = Annotated[str, typer.Option(help="dealer price in yuan, e.g. 48.50")]


@app.command("import-vouchers")
def import_vouchers(
    ctx: typer.Context,
    file: FileArg,
    face_value: FaceOpt,
    dealer_price: DealerOpt,
    expires: Annotated[str, typer.Option(help="expiry date, YYYY-MM-DD")],
    code: Annotated[str | None, typer.Option(help="batch code")] = None,
    skip_bad_rows: SkipOpt = False,
    encoding: EncodingOpt = "utf-8",
    rejected_out: RejectedOpt = None,
) -> None:
    """Import top-up cards (columns serial, pin); PINs are stored encrypted."""
    terms = _parse_terms(face_value, dealer_price, expires, code)
    with _session(rejected_out) as session, _progress("cards", None) as tick:
        report = vouchers.import_vouchers(
            session,
            file.read_bytes(),
            file.name,
            terms,
            PinCipher.from_settings(get_settings()),
            _billing_actor(ctx, session),
            skip_bad_rows=skip_bad_rows,
            encoding=encoding,
            progress=tick,
        )
    _print_report(report, rejected_out)


@app.command("generate-vouchers")
def generate_vouchers(
    ctx: typer.Context,
    first_serial: Annotated[str, typer.Option(help="17-digit serial of the first card")],
    count: Annotated[int, typer.Option(help="how many cards")],
    face_value: FaceOpt,
    dealer_price: DealerOpt,
    expires: Annotated[str, typer.Option(help="expiry date, YYYY-MM-DD")],
    pins_out: Annotated[
        Path, typer.Option(help="where to write serial,pin for the card printer (only copy)")
    ],
    code: Annotated[str | None, typer.Option(help="batch code")] = None,
) -> None:
    """Generate top-up cards with random PINs; the PIN file is written once and never again."""
    if pins_out.exists():
        errors.print(f"[red]error[/red]: {pins_out} exists; PINs are never overwritten")
        raise typer.Exit(1)
    terms = _parse_terms(face_value, dealer_price, expires, code)
    try:
        request = VoucherGenerateRequest(
            **terms.model_dump(), first_serial=first_serial, count=count
        )
    except ValueError as exc:
        errors.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(1) from exc
    with _session() as session, _progress("cards", count) as tick:
        result = vouchers.generate_vouchers(
            session,
            request,
            PinCipher.from_settings(get_settings()),
            _billing_actor(ctx, session),
            tick,
        )
    pins_out.touch(mode=0o600)
    pins_out.write_text(result.pins_csv, encoding="utf-8")
    b = result.batch
    console.print(
        f"batch {b.code}: {b.item_count} cards of {format_fen(b.face_value_fen)} "
        f"{b.first_serial}–{b.last_serial}; PINs in {pins_out}"
    )


def _parse_terms(
    face_value: str, dealer_price: str, expires: str, code: str | None
) -> VoucherBatchTerms:
    try:
        return VoucherBatchTerms(
            face_value_fen=parse_yuan(face_value),
            dealer_price_fen=parse_yuan(dealer_price),
            expires_on=date.fromisoformat(expires),
            code=code,
        )
    except ValueError as exc:
        errors.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(1) from exc


@app.command()
def release(
    ctx: typer.Context,
    item_kind: Annotated[str, typer.Argument(help="numbers or vouchers")],
    batch: Annotated[str, typer.Argument(help="batch code")],
    note: Annotated[str, typer.Option()] = "",
) -> None:
    """Release (放号) a batch to the channel pool with a release document."""
    if item_kind not in {"numbers", "vouchers"}:
        errors.print("[red]error[/red]: item kind must be numbers or vouchers")
        raise typer.Exit(2)
    with _session() as session:
        actor = _billing_actor(ctx, session)
        do = releases.release_numbers if item_kind == "numbers" else releases.release_vouchers
        document = do(session, batch, actor, note)
    line = document.lines[0]
    console.print(
        f"release document {document.number}: {line.item_count} {item_kind} "
        f"{line.first_item}–{line.last_item} released by {document.created_by}"
    )


@app.command("search-numbers")
def search_numbers(
    pattern: Annotated[str, typer.Argument(help="*88, 139*, 139057?8888 or digits")],
    grade: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 20,
) -> None:
    """Find numbers by pattern, grade and status."""
    with _session() as session:
        page = numbers.search_numbers(session, pattern, grade, status, limit=limit)
    table = Table("number", "grade", "status", "ICCID", "selection fee", "prestore")
    for n in page.items:
        table.add_row(
            n.msisdn,
            f"{n.grade_code} {n.grade_name}",
            n.status,
            n.iccid or "",
            format_fen(n.selection_fee_fen),
            format_fen(n.prestore_fen),
        )
    console.print(table)
    if page.next_after:
        console.print(f"more after {page.next_after}")


@app.command()
def grades() -> None:
    """Show the grades with their prices and the grading rules in order."""
    with _session() as session:
        table = Table("grade", "name", "selection fee", "prestore", "min monthly", "lock-in")
        for g in grading.list_grades(session):
            table.add_row(
                g.code,
                g.name,
                format_fen(g.selection_fee_fen),
                format_fen(g.prestore_fen),
                format_fen(g.min_monthly_fen),
                f"{g.lockin_months} months",
            )
        console.print(table)
        rules = Table("#", "rule", "pattern", "grade", "active")
        for r in grading.list_rules(session):
            rules.add_row(
                str(r.position), r.name, r.pattern, r.grade_code, "yes" if r.active else "no"
            )
        console.print(rules)


@app.command()
def demo(
    port: Annotated[int, typer.Option()] = 8000,
    data_dir: Annotated[Path, typer.Option()] = Path("var/demo"),
) -> None:
    """Start the back office on a fresh SQLite database with demo data."""
    from backoffice.demo import run_demo

    run_demo(data_dir, port)
