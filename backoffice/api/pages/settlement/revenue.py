"""The revenue feed: the billing system's monthly revenue per number, uploaded as CSV or XLSX
for the revenue-share commission (services/settlement/revenue_file.py reads, checks and
stores it), and its report on the same page: rows accepted and rejected with line, column and
reason, numbers not known here, totals. A file that cannot be read says why beside the file
field, naming the line; nothing of a refused file is stored."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile, status
from fastapi.responses import HTMLResponse, Response

from backoffice.api.deps import SessionDep, SettingsDep
from backoffice.api.pages.frame import (
    CHANNEL_PAGES,
    CsrfChecked,
    error_text,
    gettext_of,
    page_user,
    render,
)
from backoffice.core.i18n import Translate
from backoffice.domain.calendar import business_day
from backoffice.domain.encodings import check_import_encoding
from backoffice.models import User
from backoffice.services.billing.tabular import ImportLimits, upload_name
from backoffice.services.errors import ImportFileError, InvalidInput
from backoffice.services.settlement import revenue_file

router = APIRouter(include_in_schema=False)
SalesCentre = Annotated[User, page_user(CHANNEL_PAGES)]
Text = Annotated[str, Form()]
Upload = Annotated[UploadFile | None, File()]
ENCODINGS = (("utf-8", "UTF-8"), ("gbk", "GBK"), ("gb18030", "GB18030"))
SUFFIXES = (".csv", ".xlsx", ".txt")


@dataclass
class FeedForm:
    month: str = ""
    encoding: str = "utf-8"
    skip_bad_rows: bool = False


def _last_month() -> str:
    today = business_day(datetime.now(UTC))
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def _page(
    request: Request,
    form: FeedForm,
    errors: dict[str, str] | None = None,
    report: revenue_file.RevenueFileReport | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    return render(
        request,
        "settlement/revenue.html",
        {
            "form": form,
            "errors": errors or {},
            "encodings": ENCODINGS,
            "report": report,
        },
        status_code=status_code,
    )


@router.get("/settlement/revenue", response_class=HTMLResponse)
def revenue_page(request: Request, _user: SalesCentre) -> Response:
    return _page(request, FeedForm(month=_last_month()))


def _month(_: Translate, text: str, errors: dict[str, str]) -> date | None:
    try:
        month = date.fromisoformat(f"{text}-01") if len(text) == 7 else date.fromisoformat(text)
    except ValueError:
        errors["month"] = _("A month, e.g. 2026-10.")
        return None
    month = month.replace(day=1)
    if month > business_day(datetime.now(UTC)).replace(day=1):
        errors["month"] = _("The month has not begun: revenue is reported after it.")
        return None
    return month


def _read_upload(
    _: Translate, file: UploadFile | None, most: int, errors: dict[str, str]
) -> tuple[bytes, str]:
    if file is None or not file.filename:
        errors["file"] = _("Choose the file to upload.")
        return b"", ""
    name = upload_name(file.filename)
    if PurePath(name).suffix.lower() not in SUFFIXES:
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


@router.post("/settlement/revenue", dependencies=[CsrfChecked], response_class=HTMLResponse)
def upload_revenue(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: SalesCentre,
    file: Upload = None,
    month: Text = "",
    encoding: Text = "utf-8",
    skip_bad_rows: Text = "",
) -> Response:
    _ = gettext_of(request)
    form = FeedForm(month.strip(), encoding.strip(), skip_bad_rows == "yes")
    errors: dict[str, str] = {}
    chosen = _month(_, form.month, errors)
    try:
        check_import_encoding(form.encoding)
    except ValueError:
        errors["encoding"] = _("UTF-8, GBK or GB18030.")
    limits = ImportLimits.from_settings(settings)
    data, name = _read_upload(_, file, limits.upload_bytes, errors)
    if errors or chosen is None:
        return _page(request, form, errors, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    try:
        report = revenue_file.report_revenue_file(
            session,
            data,
            name,
            chosen,
            user.username,
            encoding=form.encoding,
            skip_bad_rows=form.skip_bad_rows,
            limits=limits,
        )
    except ImportFileError as error:
        session.rollback()
        errors["file"] = _("The file cannot be read: %(reason)s") % {"reason": str(error)}
        return _page(request, form, errors, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    except InvalidInput as error:
        session.rollback()
        field = "month" if error.code == "future_month" else "file"
        errors[field] = error_text(request, error)
        return _page(request, form, errors, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return _page(
        request,
        form,
        report=report,
        status_code=status.HTTP_200_OK if report.applied else status.HTTP_422_UNPROCESSABLE_CONTENT,
    )
