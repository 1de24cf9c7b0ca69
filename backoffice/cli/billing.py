"""Billing-centre commands: segments, imports of numbers, SIM cards and top-up cards, pairing,
release, number search and grades; holds (freeze, unfreeze), voids, deactivation and SIM
write-offs of single items, and the lifecycle's scheduled steps on demand."""

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlmodel import Session

from backoffice.cli.common import Actor, console, errors, open_session, print_report, progress
from backoffice.contracts.billing import (
    LifecycleMovePublic,
    SegmentRequest,
    VoucherBatchTerms,
    VoucherGenerateRequest,
)
from backoffice.core.config import get_settings
from backoffice.core.crypto import pin_cipher
from backoffice.domain.encodings import check_import_encoding
from backoffice.domain.users import BILLING, Role, allows
from backoffice.services import users
from backoffice.services.billing import (
    grading,
    holds,
    lifecycle,
    numbers,
    releases,
    sims,
    vouchers,
)
from shared.money import format_fen, parse_yuan

commands = typer.Typer()


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


@commands.command("generate-numbers")
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
    with open_session() as session, progress("numbers", end - start + 1) as tick:
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


def _encoding(name: str) -> str:
    try:
        return check_import_encoding(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


EncodingOpt = Annotated[
    str, typer.Option(help="encoding of a CSV file, e.g. gbk", callback=_encoding)
]


RejectedOpt = Annotated[
    Path | None, typer.Option(help="write the rejected rows (with line and error) to this CSV")
]


@commands.command("import-numbers")
def import_numbers(
    ctx: typer.Context,
    file: FileArg,
    skip_bad_rows: SkipOpt = False,
    encoding: EncodingOpt = "utf-8",
    code: Annotated[str | None, typer.Option(help="batch code")] = None,
    rejected_out: RejectedOpt = None,
) -> None:
    """Import numbers from a file (column msisdn / 号码) and grade them."""
    with (
        open_session(rejected_out) as session,
        progress("numbers", None) as tick,
        file.open("rb") as data,
    ):
        report = numbers.import_numbers(
            session,
            data,
            file.name,
            _billing_actor(ctx, session),
            skip_bad_rows=skip_bad_rows,
            encoding=encoding,
            code=code,
            progress=tick,
        )
    print_report(report, rejected_out)


@commands.command("import-sims")
def import_sims(
    ctx: typer.Context,
    file: FileArg,
    skip_bad_rows: SkipOpt = False,
    encoding: EncodingOpt = "utf-8",
    code: Annotated[str | None, typer.Option(help="batch code")] = None,
    rejected_out: RejectedOpt = None,
) -> None:
    """Import a batch of SIM cards from a file (columns iccid, imsi)."""
    with (
        open_session(rejected_out) as session,
        progress("SIM cards", None) as tick,
        file.open("rb") as data,
    ):
        report = sims.import_sims(
            session,
            data,
            file.name,
            _billing_actor(ctx, session),
            skip_bad_rows=skip_bad_rows,
            encoding=encoding,
            code=code,
            progress=tick,
        )
    print_report(report, rejected_out)


@commands.command("pair-sims")
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
    with open_session(rejected_out) as session:
        actor = _billing_actor(ctx, session)
        if file is not None:
            with file.open("rb") as data:
                report = sims.import_pairs(
                    session,
                    data,
                    file.name,
                    actor,
                    skip_bad_rows=skip_bad_rows,
                    encoding=encoding,
                )
            print_report(report, rejected_out)
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


@commands.command("import-vouchers")
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
    with (
        open_session(rejected_out) as session,
        progress("cards", None) as tick,
        file.open("rb") as data,
    ):
        report = vouchers.import_vouchers(
            session,
            data,
            file.name,
            terms,
            pin_cipher(get_settings()),
            _billing_actor(ctx, session),
            skip_bad_rows=skip_bad_rows,
            encoding=encoding,
            progress=tick,
        )
    print_report(report, rejected_out)


@commands.command("generate-vouchers")
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
    with open_session() as session, progress("cards", count) as tick:
        result = vouchers.generate_vouchers(
            session,
            request,
            pin_cipher(get_settings()),
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


@commands.command()
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
    with open_session() as session:
        actor = _billing_actor(ctx, session)
        do = releases.release_numbers if item_kind == "numbers" else releases.release_vouchers
        document = do(session, batch, actor, note)
    line = document.lines[0]
    console.print(
        f"release document {document.number}: {line.item_count} {item_kind} "
        f"{line.first_item}–{line.last_item} released by {document.created_by}"
    )


@commands.command("search-numbers")
def search_numbers(
    pattern: Annotated[str, typer.Argument(help="*88, 139*, 139057?8888 or digits")],
    grade: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 20,
) -> None:
    """Find numbers by pattern, grade and status."""
    with open_session() as session:
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


@commands.command()
def grades() -> None:
    """Show the grades with their prices and the grading rules in order."""
    with open_session() as session:
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


ReasonOpt = Annotated[str, typer.Option(help="why (required); recorded in the audit log")]


def _print_move(move: LifecycleMovePublic) -> None:
    line = f"{move.item_kind} {move.item}: {move.from_status} → {move.to_status}"
    if move.held_from:
        line += f" (unfreeze returns it to {move.held_from})"
    if move.cooling_until:
        line += f" (back to the pool after {move.cooling_until.isoformat(timespec='minutes')})"
    if move.unpaired:
        line += f"; number {move.unpaired} unpaired"
    console.print(f"{line}; by {move.actor}", highlight=False)


def _hold_command(name: str, do: holds.Move, what: str, help_text: str) -> None:
    """Registers `haoka-office <name> KEY --reason ...` for one single-item move."""

    def command(
        ctx: typer.Context,
        key: Annotated[str, typer.Argument(metavar=what.replace(" ", "_"), help=what)],
        reason: ReasonOpt,
    ) -> None:
        with open_session() as session:
            move = do(session, key, reason, _billing_actor(ctx, session))
        _print_move(move)

    command.__doc__ = help_text
    commands.command(name)(command)


for _name, _do, _what, _help in (
    ("freeze-number", holds.freeze_number, "msisdn", "Freeze a number not yet sold (admin hold)."),
    ("unfreeze-number", holds.unfreeze_number, "msisdn", "Unfreeze a number to its prior status."),
    (
        "deactivate-number",
        holds.deactivate_number,
        "msisdn",
        "Deactivate an active number: it cools (number_cooling_days), then returns to the pool.",
    ),
    ("freeze-voucher", holds.freeze_voucher, "card serial", "Freeze a top-up card (admin hold)."),
    (
        "unfreeze-voucher",
        holds.unfreeze_voucher,
        "card serial",
        "Unfreeze a top-up card to its prior status.",
    ),
    ("void-voucher", holds.void_voucher, "card serial", "Void a frozen top-up card for good."),
    (
        "mark-sim-damaged",
        holds.mark_sim_damaged,
        "iccid",
        "Write a SIM card off as damaged (a paired number is unpaired).",
    ),
    (
        "mark-sim-lost",
        holds.mark_sim_lost,
        "iccid",
        "Write a SIM card off as lost (a paired number is unpaired).",
    ),
):
    _hold_command(_name, _do, _what, _help)


@commands.command("lifecycle-sweep")
def lifecycle_sweep(ctx: typer.Context) -> None:
    """Run the worker's lifecycle steps now: numbers whose cooling ended back to the pool,
    sold top-up cards of expired batches expired."""
    with open_session() as session:
        swept = lifecycle.run_due(session, _billing_actor(ctx, session))
    console.print(
        f"numbers back to the pool: {swept.numbers_recycled}; "
        f"top-up cards expired: {swept.vouchers_expired}"
    )
