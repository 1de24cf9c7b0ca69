"""The billing centre's stock pages (营账员): segments and batches with their counts per status
and grade, generating a segment; imports of numbers, SIM cards and top-up cards with their
reports and rejected rows; SIM pairing; releases (放号) and their printable documents.

The long work (an import, a generation, a pairing, a release) runs as a background job
(services/billing/jobs.py): a form is checked here, field by field, and on success the job is
submitted and the browser sent to its progress page. A release asks for confirmation first,
with the count of what it will move."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from backoffice.api.deps import PinCipherDep, SessionDep, SettingsDep, disposition
from backoffice.api.pages.frame import (
    BILLING_PAGES,
    CsrfChecked,
    gettext_of,
    page_user,
    refused,
    render,
)
from backoffice.core.i18n import N_, Translate
from backoffice.domain.calendar import business_day
from backoffice.domain.encodings import check_import_encoding
from backoffice.models import (
    ImportJob,
    MobileNumber,
    NumberBatch,
    NumberGrade,
    SimBatch,
    User,
    VoucherBatch,
)
from backoffice.services import jobs
from backoffice.services.billing import imports, releases, stock
from backoffice.services.billing import jobs as billing_jobs
from backoffice.services.billing.releases import NumberSelection
from backoffice.services.billing.sims import PAIRABLE_NUMBER
from backoffice.services.billing.tabular import REPORTED_ERRORS, ImportLimits, upload_name
from backoffice.services.errors import NotFound
from shared.codes import CodeError, parse_msisdn
from shared.money import MoneyError, format_fen, parse_yuan

router = APIRouter(include_in_schema=False)
Clerk = Annotated[User, page_user(BILLING_PAGES)]
Text = Annotated[str, Form()]
Upload = Annotated[UploadFile | None, File()]

# The words of the pages' choices, translated where shown.
KIND_NAMES = {
    "numbers": N_("Numbers"),
    "sims": N_("SIM cards"),
    "vouchers": N_("Top-up cards"),
    "pairs": N_("SIM pairing"),
}
# A release document's lines, by the kind of their items.
LINE_KINDS = {"number": N_("Numbers"), "sim": N_("SIM cards"), "voucher": N_("Top-up cards")}
OUTCOME_NAMES = (N_("imported"), N_("partial"), N_("rejected"))
DOCUMENT_STATUS_NAMES = (N_("done"),)
SOURCE_NAMES = (N_("segment"), N_("file"), N_("generated"))
ENCODINGS = (("utf-8", "UTF-8"), ("gbk", "GBK"), ("gb18030", "GB18030"))
IMPORT_SUFFIXES = (".csv", ".xlsx", ".txt")
CODE_MAX = 64
NOTE_MAX = 500
SEGMENT_INDEX_MAX = 99_999_999
_DIGITS = re.compile(r"[0-9]+")
_KEY = re.compile(r"[0-9A-Za-z-]{1,64}")


def _key(value: str | None) -> str | None:
    """A keyset key from the URL (an id or a document number), or None for anything else."""
    return value if value and _KEY.fullmatch(value) else None


def _to_job(job_id: str) -> RedirectResponse:
    return RedirectResponse(f"/jobs/{job_id}", status.HTTP_303_SEE_OTHER)


def _not_found(request: Request, user: User, message: str, **params: object) -> Response:
    return refused(request, user, status.HTTP_404_NOT_FOUND, NotFound(message, params=params))


def _text_problem(_: Translate, value: str, most: int) -> str | None:
    if len(value) > most:
        return _("At most %(n)s characters.") % {"n": most}
    return None


# --- Segments and batches ---------------------------------------------------------------------


@dataclass
class SegmentForm:
    prefix: str = ""
    start: str = ""
    end: str = ""
    code: str = ""


def _batches_page(
    request: Request,
    session: Session,
    kind: str,
    after: str | None,
    form: SegmentForm | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    kind = kind if kind in stock.BATCH_KINDS else "numbers"
    batches, next_after = stock.batches_page(session, kind, _key(after))
    return render(
        request,
        "billing/batches.html",
        {
            "kind": kind,
            "kinds": [(k, KIND_NAMES[k]) for k in stock.BATCH_KINDS],
            "batches": batches,
            "next_after": next_after,
            "form": form or SegmentForm(),
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/billing/batches", response_class=HTMLResponse)
def batches_page(
    request: Request,
    session: SessionDep,
    _user: Clerk,
    kind: str = "numbers",
    after: str | None = None,
) -> Response:
    return _batches_page(request, session, kind, after)


def _segment_errors(
    _: Translate, session: Session, form: SegmentForm, settings_rows: int
) -> tuple[dict[str, str], tuple[str, str]]:
    """Each field's problem, and the segment's first and last number when there is none."""
    errors: dict[str, str] = {}
    if not _DIGITS.fullmatch(form.prefix) or not 3 <= len(form.prefix) <= 10:
        errors["prefix"] = _("3 to 10 digits, the start of every number, e.g. 1390575.")
    bounds = {}
    for name in ("start", "end"):
        value = getattr(form, name)
        if not _DIGITS.fullmatch(value) or len(value) > 8:
            errors[name] = _("A whole number from 0 to %(max)s.") % {"max": SEGMENT_INDEX_MAX}
        else:
            bounds[name] = int(value)
    if problem := _text_problem(_, form.code, CODE_MAX):
        errors["code"] = problem
    if errors:
        return errors, ("", "")
    start, end = bounds["start"], bounds["end"]
    width = 11 - len(form.prefix)
    if end < start:
        errors["end"] = _("The end is below the start.")
    elif end >= 10**width:
        errors["end"] = _("After a prefix of %(digits)s digits, at most %(max)s.") % {
            "digits": len(form.prefix),
            "max": 10**width - 1,
        }
    elif end - start + 1 > settings_rows:
        errors["end"] = _("At most %(n)s numbers at a time: split the segment.") % {
            "n": f"{settings_rows:,}"
        }
    if errors:
        return errors, ("", "")
    first, last = f"{form.prefix}{start:0{width}d}", f"{form.prefix}{end:0{width}d}"
    try:
        parse_msisdn(first)
    except CodeError:
        errors["prefix"] = _("%(number)s is not a mobile number: check the prefix.") % {
            "number": first
        }
        return errors, ("", "")
    taken = session.exec(
        select(MobileNumber.msisdn)
        .where(col(MobileNumber.msisdn).between(first, last))
        .order_by(col(MobileNumber.msisdn))
        .limit(1)
    ).first()
    if taken:
        errors["start"] = _(
            "The segment %(first)s–%(last)s overlaps %(number)s, which is already in the system."
        ) % {
            "first": first,
            "last": last,
            "number": taken,
        }
    if form.code and stock.batch_by_code(session, "numbers", form.code):
        errors["code"] = _("Batch code %(code)s is already used.") % {"code": form.code}
    return errors, (first, last)


@router.post("/billing/batches/segment", dependencies=[CsrfChecked], response_class=HTMLResponse)
def generate_segment(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Clerk,
    prefix: Text = "",
    start: Text = "",
    end: Text = "",
    code: Text = "",
) -> Response:
    """Checks the segment (prefix, range, no number already in the system, a free code) and
    generates it as a job."""
    _ = gettext_of(request)
    form = SegmentForm(prefix.strip(), start.strip(), end.strip(), code.strip())
    errors, (first, last) = _segment_errors(_, session, form, settings.import_max_rows)
    if errors:
        return _batches_page(
            request, session, "numbers", None, form, errors, status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    job = jobs.submit(
        session,
        billing_jobs.GENERATE_SEGMENT,
        user.username,
        N_("Generate numbers %(first)s–%(last)s"),
        {"first": first, "last": last},
        params={
            "prefix": form.prefix,
            "start": int(form.start),
            "end": int(form.end),
            "code": form.code or None,
        },
    )
    return _to_job(job.id)


def _batch_or_404(
    request: Request, session: Session, user: User, kind: str, code: str
) -> stock.Batch | Response:
    batch = stock.batch_by_code(session, kind, code)
    if batch is None:
        return _not_found(request, user, N_("Batch %(batch)s not found."), batch=code)
    return batch


@router.get("/billing/batches/{kind}/{code}/counts", response_class=HTMLResponse)
def batch_counts(
    request: Request, session: SessionDep, user: Clerk, kind: str, code: str
) -> Response:
    """The counts of one batch, for the list (htmx asks for it when the row is shown)."""
    batch = _batch_or_404(request, session, user, kind, code)
    if isinstance(batch, Response):
        return batch
    counts = stock.batch_counts(session, kind, batch.id)
    return render(request, "billing/batches_counts.html", {"kind": kind, "counts": counts})


@router.get("/billing/batches/{kind}/{code}", response_class=HTMLResponse)
def batch_page(
    request: Request, session: SessionDep, user: Clerk, kind: str, code: str
) -> Response:
    """A batch with its counts per status (and grade × status for numbers), and what can be
    done with it: release it, pair it, see its numbers."""
    batch = _batch_or_404(request, session, user, kind, code)
    if isinstance(batch, Response):
        return batch
    counts = stock.batch_counts(session, kind, batch.id)
    document = None
    if isinstance(batch, NumberBatch | VoucherBatch) and batch.release_document_id:
        document = stock.release_by_id(session, batch.release_document_id)
    waiting = counts.by_status.get("imported" if kind == "numbers" else "generated", 0)
    return render(
        request,
        "billing/batches_detail.html",
        {
            "kind": kind,
            "kind_name": KIND_NAMES[kind],
            "batch": batch,
            "counts": counts,
            "document": document,
            "releasable": waiting if kind in ("numbers", "vouchers") else 0,
        },
    )


# --- Imports ----------------------------------------------------------------------------------


@dataclass
class ImportForm:
    kind: str = "numbers"
    encoding: str = "utf-8"
    skip_bad_rows: bool = False
    code: str = ""
    face_value: str = ""
    dealer_price: str = ""
    expires_on: str = ""


def _imports_page(
    request: Request,
    session: Session,
    kind: str | None,
    after: str | None,
    form: ImportForm | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    _ = gettext_of(request)
    kind = kind if kind in stock.IMPORT_KINDS else None
    rows, next_after = stock.imports_page(session, kind, _key(after))
    return render(
        request,
        "billing/imports.html",
        {
            "kind": kind or "",
            "kinds": [(k, KIND_NAMES[k]) for k in stock.IMPORT_KINDS],
            "kind_names": KIND_NAMES,
            "upload_kinds": [(k, _(KIND_NAMES[k])) for k in stock.BATCH_KINDS],
            "encodings": ENCODINGS,
            "imports": rows,
            "next_after": next_after,
            "form": form or ImportForm(kind=kind if kind in stock.BATCH_KINDS else "numbers"),
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/billing/imports", response_class=HTMLResponse)
def imports_page(
    request: Request,
    session: SessionDep,
    _user: Clerk,
    kind: str = "",
    after: str | None = None,
) -> Response:
    return _imports_page(request, session, kind, after)


def _read_upload(
    _: Translate, file: UploadFile | None, most: int, errors: dict[str, str]
) -> tuple[bytes, str]:
    """The uploaded file's bytes and name as it may be stored; a problem goes in errors."""
    if file is None or not file.filename:
        errors["file"] = _("Choose the file to import.")
        return b"", ""
    name = upload_name(file.filename)
    if PurePath(name).suffix.lower() not in IMPORT_SUFFIXES:
        errors["file"] = _("A CSV or XLSX file, please (its name ends in .csv or .xlsx).")
        return b"", name
    data = file.file.read(most + 1)
    if not data:
        errors["file"] = _("The file is empty.")
    elif len(data) > most:
        errors["file"] = _(
            "The file is larger than %(n)s bytes, the most an import may have: split it."
        ) % {"n": f"{most:,}"}
    return data, name


def _encoding_problem(_: Translate, encoding: str) -> str | None:
    try:
        check_import_encoding(encoding)
    except ValueError:
        return _("UTF-8, GBK or GB18030.")
    return None


def _voucher_terms(_: Translate, form: ImportForm, errors: dict[str, str]) -> dict[str, Any]:
    """The batch terms of a top-up card import, each field checked as the API's contract
    checks it (10 to 500 yuan, dealer price at most the face value, not yet expired)."""
    terms: dict[str, Any] = {}
    amounts = {}
    for name in ("face_value", "dealer_price"):
        try:
            amounts[name] = parse_yuan(getattr(form, name))
        except (MoneyError, TypeError):
            errors[name] = _("An amount in yuan, e.g. 50 or 48.50.")
    face, price = amounts.get("face_value"), amounts.get("dealer_price")
    if face is not None and not 1_000 <= face <= 50_000:
        errors["face_value"] = _("From 10 to 500 yuan.")
    if price is not None and price <= 0:
        errors["dealer_price"] = _("More than 0 yuan.")
    elif price is not None and face is not None and price > face:
        errors["dealer_price"] = _("At most the face value, %(face)s.") % {"face": format_fen(face)}
    try:
        expires = date.fromisoformat(form.expires_on)
    except ValueError:
        errors["expires_on"] = _("A date, e.g. 2027-12-31.")
    else:
        today = business_day(datetime.now(UTC))
        if expires < today:
            errors["expires_on"] = _("The date is in the past.")
        elif expires.year > 9000:
            errors["expires_on"] = _("A date, e.g. 2027-12-31.")
        terms["expires_on"] = expires.isoformat()
    terms.update(face_value_fen=face, dealer_price_fen=price)
    return terms


@router.post("/billing/imports", dependencies=[CsrfChecked], response_class=HTMLResponse)
def start_import(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    cipher: PinCipherDep,
    user: Clerk,
    file: Upload = None,
    kind: Text = "numbers",
    encoding: Text = "utf-8",
    skip_bad_rows: Text = "",
    code: Text = "",
    face_value: Text = "",
    dealer_price: Text = "",
    expires_on: Text = "",
) -> Response:
    """Checks the form and the file's name and size, then imports it as a job (its rows are
    checked there, with the progress bar, and reported)."""
    _ = gettext_of(request)
    form = ImportForm(
        kind=kind,
        encoding=encoding.strip(),
        skip_bad_rows=bool(skip_bad_rows),
        code=code.strip(),
        face_value=face_value.strip(),
        dealer_price=dealer_price.strip(),
        expires_on=expires_on.strip(),
    )
    errors: dict[str, str] = {}
    if kind not in stock.BATCH_KINDS:
        errors["kind"] = _("Choose what the file holds.")
        form.kind = "numbers"
    if problem := _encoding_problem(_, form.encoding):
        errors["encoding"] = problem
    if problem := _text_problem(_, form.code, CODE_MAX):
        errors["code"] = problem
    elif form.code and stock.batch_by_code(session, form.kind, form.code):
        errors["code"] = _("Batch code %(code)s is already used.") % {"code": form.code}
    terms = _voucher_terms(_, form, errors) if form.kind == "vouchers" else {}
    limits = ImportLimits.from_settings(settings)
    data, name = _read_upload(_, file, limits.upload_bytes, errors)
    if errors:
        return _imports_page(
            request, session, None, None, form, errors, status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    params = billing_jobs.import_params(
        limits, form.encoding, form.skip_bad_rows, code=form.code or None, **terms
    )
    if form.kind == "vouchers":
        # The file holds the cards' PINs: it waits for the job encrypted.
        data, params["sealed"] = billing_jobs.seal_payload(cipher, data)
    titles = {
        "numbers": N_("Import numbers from %(file)s"),
        "sims": N_("Import SIM cards from %(file)s"),
        "vouchers": N_("Import top-up cards from %(file)s"),
    }
    job = jobs.submit(
        session,
        billing_jobs.IMPORT_JOBS[form.kind],
        user.username,
        titles[form.kind],
        {"file": name},
        params=params,
        payload=data,
        payload_name=name,
    )
    return _to_job(job.id)


def _import_or_404(
    request: Request, session: Session, user: User, import_id: str
) -> ImportJob | Response:
    job = session.get(ImportJob, import_id) if _key(import_id) else None
    if job is None:
        return _not_found(request, user, N_("Import %(id)s not found."), id=import_id[:64])
    return job


@router.get("/billing/imports/{import_id}", response_class=HTMLResponse)
def import_report(request: Request, session: SessionDep, user: Clerk, import_id: str) -> Response:
    """An import's report: its rows, and each rejected row's line, column and reason."""
    job = _import_or_404(request, session, user, import_id)
    if isinstance(job, Response):
        return job
    report = imports.report(session, job.id)
    return render(
        request,
        "billing/imports_report.html",
        {
            "job": job,
            "report": report,
            "kind_name": KIND_NAMES.get(job.kind, job.kind),
            "batch_code": stock.import_batch_code(session, job),
            "shown_errors": REPORTED_ERRORS,
        },
    )


@router.get("/billing/imports/{import_id}/rejected.csv")
def rejected_rows(request: Request, session: SessionDep, user: Clerk, import_id: str) -> Response:
    """The rejected rows as the file had them, with their line and reason, to fix and import
    again (the same CSV as the API's and the CLI's)."""
    job = _import_or_404(request, session, user, import_id)
    if isinstance(job, Response):
        return job
    try:
        file_name, content = imports.rejected_rows(session, job.id)
    except NotFound:
        return _not_found(request, user, N_("Import %(id)s had no rejected rows."), id=job.id)
    return Response(
        content.encode("utf-8-sig"),  # the BOM makes Excel read Chinese text right
        media_type="text/csv; charset=utf-8",
        headers=disposition(file_name),
    )


# --- SIM pairing ------------------------------------------------------------------------------


@dataclass
class PairingForm:
    number_batch: str = ""
    sim_batch: str = ""
    encoding: str = "utf-8"
    skip_bad_rows: bool = False


def _pairing_page(
    request: Request,
    session: Session,
    form: PairingForm | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    recent, _next = stock.imports_page(session, "pairs", None, limit=10)
    return render(
        request,
        "billing/pairing.html",
        {
            "form": form or PairingForm(),
            "errors": errors or {},
            "encodings": ENCODINGS,
            "number_codes": stock.recent_codes(session, "numbers"),
            "sim_codes": stock.recent_codes(session, "sims"),
            "recent": recent,
        },
        status_code=status_code,
    )


@router.get("/billing/pairing", response_class=HTMLResponse)
def pairing_page(
    request: Request,
    session: SessionDep,
    _user: Clerk,
    numbers: str = "",
    sims: str = "",
) -> Response:
    return _pairing_page(
        request, session, PairingForm(number_batch=numbers[:CODE_MAX], sim_batch=sims[:CODE_MAX])
    )


@router.post("/billing/pairing/order", dependencies=[CsrfChecked], response_class=HTMLResponse)
def pair_in_order(
    request: Request,
    session: SessionDep,
    user: Clerk,
    number_batch: Text = "",
    sim_batch: Text = "",
    confirmed: Text = "",
) -> Response:
    """A number batch's unpaired numbers with a SIM batch's free cards, both in order: says
    how many pairs that makes and asks first; then pairs them as a job."""
    _ = gettext_of(request)
    form = PairingForm(
        number_batch=number_batch.strip()[:CODE_MAX], sim_batch=sim_batch.strip()[:CODE_MAX]
    )
    errors: dict[str, str] = {}
    numbers_of = stock.batch_by_code(session, "numbers", form.number_batch)
    sims_of = stock.batch_by_code(session, "sims", form.sim_batch)
    if not isinstance(numbers_of, NumberBatch):
        errors["number_batch"] = _("No number batch has this code.")
    if not isinstance(sims_of, SimBatch):
        errors["sim_batch"] = _("No SIM card batch has this code.")
    counts = None
    if isinstance(numbers_of, NumberBatch) and isinstance(sims_of, SimBatch):
        counts = stock.pairing_counts(session, numbers_of, sims_of, PAIRABLE_NUMBER)
        if not counts.unpaired_numbers:
            errors["number_batch"] = _(
                "Every number of this batch has a SIM card already (or has left the warehouse)."
            )
        elif not counts.free_sims:
            errors["sim_batch"] = _("No SIM card of this batch is free.")
    if errors or counts is None:
        return _pairing_page(request, session, form, errors, status.HTTP_422_UNPROCESSABLE_CONTENT)
    pairs = min(counts.unpaired_numbers, counts.free_sims)
    if confirmed != "yes":
        return render(
            request,
            "confirm.html",
            {
                "title": _("Pair SIM cards in order"),
                "message": _("Pair %(pairs)s numbers of %(numbers)s with SIM cards of %(sims)s?")
                % {
                    "pairs": f"{pairs:,}",
                    "numbers": form.number_batch,
                    "sims": form.sim_batch,
                },
                "details": [
                    _("%(n)s numbers of the batch have no SIM card; %(m)s SIM cards are free.")
                    % {
                        "n": f"{counts.unpaired_numbers:,}",
                        "m": f"{counts.free_sims:,}",
                    },
                    _(
                        "They are paired in order: the lowest number with the lowest ICCID, "
                        "and so on."
                    ),
                ],
                "action": "/billing/pairing/order",
                "fields": {"number_batch": form.number_batch, "sim_batch": form.sim_batch},
                "button": _("Pair them"),
                "back": "/billing/pairing",
            },
        )
    job = jobs.submit(
        session,
        billing_jobs.PAIR_SIMS,
        user.username,
        N_("Pair numbers of %(numbers)s with SIM cards of %(sims)s"),
        {"numbers": form.number_batch, "sims": form.sim_batch},
        params={"mode": "order", "number_batch": form.number_batch, "sim_batch": form.sim_batch},
    )
    return _to_job(job.id)


@router.post("/billing/pairing/file", dependencies=[CsrfChecked], response_class=HTMLResponse)
def pair_from_file(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Clerk,
    file: Upload = None,
    encoding: Text = "utf-8",
    skip_bad_rows: Text = "",
) -> Response:
    """A file of msisdn, iccid pairs, checked and written as a job, with its report."""
    _ = gettext_of(request)
    form = PairingForm(encoding=encoding.strip(), skip_bad_rows=bool(skip_bad_rows))
    errors: dict[str, str] = {}
    if problem := _encoding_problem(_, form.encoding):
        errors["encoding"] = problem
    limits = ImportLimits.from_settings(settings)
    data, name = _read_upload(_, file, limits.upload_bytes, errors)
    if errors:
        return _pairing_page(request, session, form, errors, status.HTTP_422_UNPROCESSABLE_CONTENT)
    job = jobs.submit(
        session,
        billing_jobs.PAIR_SIMS,
        user.username,
        N_("Pair SIM cards from %(file)s"),
        {"file": name},
        params={
            "mode": "file",
            **billing_jobs.import_params(limits, form.encoding, form.skip_bad_rows),
        },
        payload=data,
        payload_name=name,
    )
    return _to_job(job.id)


# --- Releases ---------------------------------------------------------------------------------


@dataclass
class ReleaseForm:
    item_kind: str = "numbers"
    batch: str = ""
    grade: str = ""
    first: str = ""
    last: str = ""
    note: str = ""

    def hidden(self) -> dict[str, str]:
        return {
            "item_kind": self.item_kind,
            "batch": self.batch,
            "grade": self.grade,
            "first": self.first,
            "last": self.last,
            "note": self.note,
        }


def _grades(session: Session) -> list[tuple[str, str]]:
    """The grades by code, best first (their names are the operator's, in Chinese: they
    show on the batches' counts)."""
    codes = session.exec(select(NumberGrade.code).order_by(col(NumberGrade.rank))).all()
    return [(code, code) for code in codes]


def _releases_page(
    request: Request,
    session: Session,
    after: str | None,
    form: ReleaseForm | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    _ = gettext_of(request)
    rows, next_after = stock.releases_page(session, _key(after))
    return render(
        request,
        "billing/releases.html",
        {
            "releases": rows,
            "next_after": next_after,
            "form": form or ReleaseForm(),
            "errors": errors or {},
            "grades": _grades(session),
            "item_kinds": [(k, _(KIND_NAMES[k])) for k in ("numbers", "vouchers")],
            "number_codes": stock.recent_codes(session, "numbers"),
            "voucher_codes": stock.recent_codes(session, "vouchers"),
        },
        status_code=status_code,
    )


@router.get("/billing/releases", response_class=HTMLResponse)
def releases_page(
    request: Request,
    session: SessionDep,
    _user: Clerk,
    after: str | None = None,
    kind: str = "numbers",
    batch: str = "",
) -> Response:
    form = ReleaseForm(
        item_kind=kind if kind in ("numbers", "vouchers") else "numbers", batch=batch[:CODE_MAX]
    )
    return _releases_page(request, session, after, form)


def _msisdn_problem(_: Translate, value: str) -> str | None:
    if not value:
        return None
    try:
        parse_msisdn(value)
    except CodeError:
        return _("An 11-digit mobile number.")
    return None


@dataclass
class Checked:
    """A release form that passed its checks: what it selects, and how many that is now."""

    count: int
    batch: NumberBatch | VoucherBatch | None
    selection: NumberSelection | None


def _release_checked(
    _: Translate, session: Session, form: ReleaseForm, errors: dict[str, str]
) -> Checked | None:
    if form.item_kind not in ("numbers", "vouchers"):
        errors["item_kind"] = _("Numbers or top-up cards.")
        return None
    for name, most in (("batch", CODE_MAX), ("note", NOTE_MAX)):
        if problem := _text_problem(_, getattr(form, name), most):
            errors[name] = problem
    batch = None
    if form.batch and "batch" not in errors:
        batch = stock.batch_by_code(session, form.item_kind, form.batch)
        if batch is None:
            errors["batch"] = _("No batch has this code.")
    if form.item_kind == "vouchers":
        if not form.batch:
            errors["batch"] = _("The code of the top-up card batch to release.")
        if errors or not isinstance(batch, VoucherBatch):
            return None
        return Checked(releases.releasable_vouchers(session, batch), batch, None)
    if form.grade and session.get(NumberGrade, form.grade) is None:
        errors["grade"] = _("No such grade.")
    for name in ("first", "last"):
        if problem := _msisdn_problem(_, getattr(form, name)):
            errors[name] = problem
    if not errors and form.first and form.last and form.first > form.last:
        errors["last"] = _("The last number is below the first.")
    if not errors and not (form.batch or form.grade or form.first or form.last):
        errors["batch"] = _(
            "Choose the numbers to release: a batch, a grade or a range of numbers."
        )
    if errors:
        return None
    selection = NumberSelection(
        batch=batch if isinstance(batch, NumberBatch) else None,
        grade=form.grade or None,
        first=form.first or None,
        last=form.last or None,
    )
    return Checked(releases.releasable_numbers(session, selection), batch, selection)


def _selection_data(form: ReleaseForm) -> str:
    """The selection as data only (codes and numbers), for a job's title in any language."""
    parts = [form.batch, form.grade]
    if form.first or form.last:
        parts.append(f"{form.first or '…'}–{form.last or '…'}")
    return " · ".join(part for part in parts if part)


def _selection_words(_: Translate, form: ReleaseForm) -> str:
    parts = []
    if form.batch:
        parts.append(form.batch)
    if form.grade:
        parts.append(_("grade %(grade)s") % {"grade": form.grade})
    if form.first or form.last:
        parts.append(
            _("numbers %(first)s to %(last)s")
            % {"first": form.first or "…", "last": form.last or "…"}
        )
    return ", ".join(parts)


@router.post("/billing/releases", dependencies=[CsrfChecked], response_class=HTMLResponse)
def release(
    request: Request,
    session: SessionDep,
    user: Clerk,
    item_kind: Text = "numbers",
    batch: Text = "",
    grade: Text = "",
    first: Text = "",
    last: Text = "",
    note: Text = "",
    confirmed: Text = "",
) -> Response:
    """Checks what the release takes and counts it; asks first ("Release 10,000 numbers of
    SEG-1390575?"); then releases as a job, whose result is the release document."""
    _ = gettext_of(request)
    form = ReleaseForm(
        item_kind, batch.strip(), grade.strip(), first.strip(), last.strip(), note.strip()
    )
    errors: dict[str, str] = {}
    checked = _release_checked(_, session, form, errors)
    if checked is not None and checked.count == 0:
        errors["batch"] = (
            _("Nothing to release: no number of this selection is still imported.")
            if form.item_kind == "numbers"
            else _("Nothing to release: every top-up card of this batch has left the warehouse.")
        )
    if errors or checked is None:
        return _releases_page(
            request, session, None, form, errors, status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    count = f"{checked.count:,}"
    if form.item_kind == "vouchers":
        question = _("Release %(count)s top-up cards of %(batch)s?") % {
            "count": count,
            "batch": form.batch,
        }
        title = N_("Release top-up cards of %(batch)s")
    elif form.batch and not (form.grade or form.first or form.last):
        question = _("Release %(count)s numbers of %(batch)s?") % {
            "count": count,
            "batch": form.batch,
        }
        title = N_("Release numbers of %(batch)s")
    else:
        question = _("Release %(count)s numbers (%(selection)s)?") % {
            "count": count,
            "selection": _selection_words(_, form),
        }
        title = N_("Release numbers: %(batch)s")
    if confirmed != "yes":
        return render(
            request,
            "confirm.html",
            {
                "title": _("Release"),
                "message": question,
                "details": [
                    _(
                        "They leave the billing centre for the pool: the sales centre can then "
                        "allocate them to dealers."
                    ),
                    _("A release document is made and kept; a release cannot be undone."),
                    *([_("Note: %(note)s") % {"note": form.note}] if form.note else []),
                ],
                "action": "/billing/releases",
                "fields": form.hidden(),
                "button": _("Release"),
                "back": "/billing/releases",
            },
        )
    job = jobs.submit(
        session,
        billing_jobs.RELEASE,
        user.username,
        title,
        {"batch": _selection_data(form)},
        params={
            "item_kind": form.item_kind,
            "batch_id": None if checked.batch is None else checked.batch.id,
            "grade": form.grade or None,
            "first": form.first or None,
            "last": form.last or None,
            "note": form.note,
        },
    )
    return _to_job(job.id)


@router.get("/billing/releases/{number}", response_class=HTMLResponse)
def release_document(request: Request, session: SessionDep, user: Clerk, number: str) -> Response:
    """The release document, laid out to print (the print style sheet leaves the frame out)."""
    found = stock.release(session, number[:32]) if _key(number) else None
    if found is None:
        return _not_found(
            request, user, N_("Release document %(number)s not found."), number=number[:32]
        )
    return render(
        request, "billing/releases_document.html", {"release": found, "line_kinds": LINE_KINDS}
    )
