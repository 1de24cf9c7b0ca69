"""The billing centre's background jobs: imports of numbers, SIM cards and top-up cards,
pairing SIM cards (in order or from a file), generating a segment, releases. The pages submit
them (api/pages/billing/stock.py); each handler passes the job's `ctx.progress` into the
service's loops, so the progress bar moves with the rows actually read, checked and written,
and ends with a summary and a link to the result (an import's report, the batch, the release
document).

An import whose rows are refused is not a failed job: its report is the result (kept by the
import itself), and the summary says that nothing was imported. A file that cannot be read at
all (encoding, header) fails the job, saying why."""

import base64
import secrets
from dataclasses import asdict
from datetime import date
from typing import Any, Final

from pydantic import ValidationError
from sqlmodel import Session

from backoffice.contracts.billing import ImportReport, SegmentRequest, VoucherBatchTerms
from backoffice.core.crypto import Cipher, pin_cipher
from backoffice.core.i18n import N_
from backoffice.models import NumberBatch, VoucherBatch
from backoffice.services import jobs
from backoffice.services.billing import numbers, releases, sims, vouchers
from backoffice.services.billing.releases import NumberSelection
from backoffice.services.billing.tabular import ImportLimits
from backoffice.services.errors import ImportFileError, ImportRejected, InvalidInput, NotFound
from shared.checks import excerpt

IMPORT_NUMBERS: Final = "import_numbers"
IMPORT_SIMS: Final = "import_sims"
IMPORT_VOUCHERS: Final = "import_vouchers"
PAIR_SIMS: Final = "pair_sims"
GENERATE_SEGMENT: Final = "generate_segment"
RELEASE: Final = "release"
KINDS: Final = (IMPORT_NUMBERS, IMPORT_SIMS, IMPORT_VOUCHERS, PAIR_SIMS, GENERATE_SEGMENT, RELEASE)
# The import job of each kind of import file (the import table's kind).
IMPORT_JOBS: Final = {"numbers": IMPORT_NUMBERS, "sims": IMPORT_SIMS, "vouchers": IMPORT_VOUCHERS}

UNREADABLE = N_("The file cannot be imported: %(reason)s")


# --- What the pages put in a job --------------------------------------------------------------


def import_params(
    limits: ImportLimits, encoding: str, skip_bad_rows: bool, **more: Any
) -> dict[str, Any]:
    """The parameters of an import job: the office's import limits travel with it (a worker
    may run it), and the options the clerk chose."""
    return {"limits": asdict(limits), "encoding": encoding, "skip_bad_rows": skip_bad_rows, **more}


def seal_payload(cipher: Cipher, data: bytes) -> tuple[bytes, str]:
    """A top-up card file as the job table may keep it until the job runs: encrypted with the
    PIN key (the PINs are in it), bound to a context of its own. Returns the payload and that
    context, which goes in the job's parameters."""
    context = f"import payload {secrets.token_hex(8)}"
    token = cipher.encrypt(context, base64.b64encode(data).decode("ascii"))
    return token.encode("ascii"), context


def open_payload(cipher: Cipher, payload: bytes, context: str) -> bytes:
    return base64.b64decode(cipher.decrypt(context, payload.decode("ascii")))


# --- Imports ----------------------------------------------------------------------------------


def _limits(ctx: jobs.JobContext) -> ImportLimits:
    return ImportLimits(**ctx.params["limits"])


def _file(ctx: jobs.JobContext) -> bytes:
    if ctx.payload is None:
        raise InvalidInput(N_("The job has no file to import."), code="job_without_file")
    return ctx.payload


def import_result(report: ImportReport) -> jobs.JobResult:
    """What an import job shows: its rows, and its report (with the rejected rows)."""
    summary: list[tuple[str, object]] = [(N_("Rows in the file"), report.total_rows)]
    if report.outcome == "rejected":
        summary.append((N_("Rows rejected, so nothing was imported"), report.rejected_rows))
    else:
        summary.append((N_("Rows imported"), report.accepted_rows))
        if report.rejected_rows:
            summary.append((N_("Rows rejected and left out"), report.rejected_rows))
        if report.batch_code:
            summary.append((N_("Batch"), report.batch_code))
    return jobs.JobResult(summary=summary, link=f"/billing/imports/{report.job_id}")


def _reported(run: Any) -> jobs.JobResult:
    """Runs an import: its report, whether its rows were taken or refused; a file that cannot
    be read at all fails the job with the reason in the reader's language."""
    try:
        report = run()
    except ImportRejected as rejected:
        assert isinstance(rejected.report, ImportReport)
        report = rejected.report
    except ImportFileError as error:
        raise InvalidInput(UNREADABLE, code=error.code, params={"reason": str(error)}) from error
    return import_result(report)


@jobs.handler(IMPORT_NUMBERS)
def import_numbers(session: Session, ctx: jobs.JobContext) -> jobs.JobResult:
    return _reported(
        lambda: numbers.import_numbers(
            session,
            _file(ctx),
            ctx.payload_name or "numbers.csv",
            ctx.actor,
            skip_bad_rows=bool(ctx.params.get("skip_bad_rows")),
            encoding=ctx.params.get("encoding", "utf-8"),
            code=ctx.params.get("code") or None,
            limits=_limits(ctx),
            steps=ctx.progress,
        )
    )


@jobs.handler(IMPORT_SIMS)
def import_sims(session: Session, ctx: jobs.JobContext) -> jobs.JobResult:
    return _reported(
        lambda: sims.import_sims(
            session,
            _file(ctx),
            ctx.payload_name or "sims.csv",
            ctx.actor,
            skip_bad_rows=bool(ctx.params.get("skip_bad_rows")),
            encoding=ctx.params.get("encoding", "utf-8"),
            code=ctx.params.get("code") or None,
            limits=_limits(ctx),
            steps=ctx.progress,
        )
    )


def _terms(params: dict[str, Any]) -> VoucherBatchTerms:
    try:
        return VoucherBatchTerms(
            face_value_fen=params["face_value_fen"],
            dealer_price_fen=params["dealer_price_fen"],
            expires_on=date.fromisoformat(params["expires_on"]),
            code=params.get("code") or None,
        )
    except (ValidationError, ValueError, KeyError) as error:
        raise InvalidInput(
            N_("The top-up card batch's terms are not valid: %(reason)s"),
            params={"reason": excerpt(str(error), 200)},
        ) from error


@jobs.handler(IMPORT_VOUCHERS)
def import_vouchers(session: Session, ctx: jobs.JobContext) -> jobs.JobResult:
    """The file was sealed with the PIN key by the page (seal_payload); the job opens it with
    the office's keys, from the settings its runner was given."""
    cipher = pin_cipher(ctx.settings)
    data = _file(ctx)
    if ctx.params.get("sealed"):
        data = open_payload(cipher, data, ctx.params["sealed"])
    terms = _terms(ctx.params)
    return _reported(
        lambda: vouchers.import_vouchers(
            session,
            data,
            ctx.payload_name or "cards.csv",
            terms,
            cipher,
            ctx.actor,
            skip_bad_rows=bool(ctx.params.get("skip_bad_rows")),
            encoding=ctx.params.get("encoding", "utf-8"),
            limits=_limits(ctx),
            steps=ctx.progress,
        )
    )


# --- Pairing ----------------------------------------------------------------------------------


@jobs.handler(PAIR_SIMS)
def pair_sims(session: Session, ctx: jobs.JobContext) -> jobs.JobResult:
    """From a file of pairs (its report is the result), or a number batch with a SIM batch,
    both in order."""
    if ctx.params.get("mode") == "file":
        return _reported(
            lambda: sims.import_pairs(
                session,
                _file(ctx),
                ctx.payload_name or "pairs.csv",
                ctx.actor,
                skip_bad_rows=bool(ctx.params.get("skip_bad_rows")),
                encoding=ctx.params.get("encoding", "utf-8"),
                limits=_limits(ctx),
                steps=ctx.progress,
            )
        )
    number_batch, sim_batch = ctx.params["number_batch"], ctx.params["sim_batch"]
    result = sims.pair_in_order(session, number_batch, sim_batch, ctx.actor, steps=ctx.progress)
    summary: list[tuple[str, object]] = [
        (N_("Numbers paired with SIM cards"), result.paired),
        (N_("Numbers left without a SIM card"), result.unpaired_numbers),
        (N_("SIM cards left free"), result.unpaired_sims),
    ]
    if result.first_pair and result.last_pair:
        summary += [
            (N_("First pair"), " ↔ ".join(result.first_pair)),
            (N_("Last pair"), " ↔ ".join(result.last_pair)),
        ]
    return jobs.JobResult(summary=summary, link=f"/billing/batches/numbers/{number_batch}")


# --- Generating a segment ---------------------------------------------------------------------


@jobs.handler(GENERATE_SEGMENT)
def generate_segment(session: Session, ctx: jobs.JobContext) -> jobs.JobResult:
    request = SegmentRequest(
        prefix=ctx.params["prefix"],
        start=ctx.params["start"],
        end=ctx.params["end"],
        code=ctx.params.get("code") or None,
    )
    batch = numbers.generate_segment(session, request, ctx.actor, steps=ctx.progress)
    grades = " · ".join(f"{grade}: {count:,}" for grade, count in batch.grade_counts.items())
    return jobs.JobResult(
        summary=[
            (N_("Batch"), batch.code),
            (N_("Numbers generated"), batch.item_count),
            (N_("First number"), batch.first_msisdn),
            (N_("Last number"), batch.last_msisdn),
            (N_("Numbers per grade"), grades),
        ],
        link=f"/billing/batches/numbers/{batch.code}",
    )


# --- Releases ---------------------------------------------------------------------------------


def _batch(session: Session, model: type, batch_id: str | None) -> Any:
    batch = None if batch_id is None else session.get(model, batch_id)
    if batch_id is not None and batch is None:
        raise NotFound(N_("Batch %(batch)s not found."), params={"batch": batch_id})
    return batch


@jobs.handler(RELEASE)
def release(session: Session, ctx: jobs.JobContext) -> jobs.JobResult:
    """A number batch, a selection of numbers (batch, grade, range) or a top-up card batch,
    released with one release document."""
    params, note = ctx.params, ctx.params.get("note", "")
    if params.get("item_kind") == "vouchers":
        batch = _batch(session, VoucherBatch, params["batch_id"])
        document = releases.release_voucher_batch(
            session, batch, ctx.actor, note, steps=ctx.progress
        )
        label = N_("Top-up cards released")
    else:
        selection = NumberSelection(
            batch=_batch(session, NumberBatch, params.get("batch_id")),
            grade=params.get("grade") or None,
            first=params.get("first") or None,
            last=params.get("last") or None,
        )
        document = releases.release_selected_numbers(
            session, selection, ctx.actor, note, steps=ctx.progress
        )
        label = N_("Numbers released")
    count = sum(line.item_count for line in document.lines)
    return jobs.JobResult(
        summary=[(label, count), (N_("Release document"), document.number)],
        link=f"/billing/releases/{document.number}",
    )
