"""Number batches (segments and imported files) and the number search."""

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile, status

from backoffice.api.deps import BillingClerk, SessionDep, SettingsDep, StockReader
from backoffice.contracts.billing import (
    ImportEncoding,
    ImportReport,
    NumberBatchPublic,
    NumberPage,
    NumberPublic,
    SegmentRequest,
)
from backoffice.services.billing import numbers
from backoffice.services.billing.tabular import ImportLimits, upload_name

router = APIRouter(tags=["numbers"])
# Imports are plain `def` routes: grading and writing a large file takes seconds, and FastAPI
# runs such routes in its thread pool instead of blocking the event loop.


@router.post("/number-batches/segment", status_code=status.HTTP_201_CREATED)
def generate_segment(
    request: SegmentRequest, session: SessionDep, clerk: BillingClerk
) -> NumberBatchPublic:
    return numbers.generate_segment(session, request, clerk.username)


@router.post("/number-batches/import", status_code=status.HTTP_201_CREATED)
def import_numbers(
    session: SessionDep,
    clerk: BillingClerk,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="CSV or XLSX with a column msisdn (号码)")],
    skip_bad_rows: Annotated[bool, Form()] = False,
    encoding: Annotated[ImportEncoding, Form()] = "utf-8",
    code: Annotated[str | None, Form()] = None,
) -> ImportReport:
    return numbers.import_numbers(
        session,
        file.file,
        upload_name(file.filename),
        clerk.username,
        skip_bad_rows=skip_bad_rows,
        encoding=encoding,
        code=code,
        limits=ImportLimits.from_settings(settings),
    )


@router.get("/number-batches")
def list_batches(session: SessionDep, _: StockReader) -> list[NumberBatchPublic]:
    return [NumberBatchPublic.model_validate(b) for b in numbers.list_batches(session)]


@router.get("/number-batches/{key}")
def batch_detail(key: str, session: SessionDep, _: StockReader) -> NumberBatchPublic:
    return numbers.batch_detail(session, key)


@router.get("/numbers")
def search_numbers(
    session: SessionDep,
    _: StockReader,
    pattern: Annotated[
        str | None,
        Query(
            description="*88 ends with 88, 139* starts with 139, 139057?8888, or digits "
            "the number contains"
        ),
    ] = None,
    grade: str | None = None,
    status: str | None = None,
    batch: str | None = None,
    after: Annotated[str | None, Query(description="next_after of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> NumberPage:
    return numbers.search_numbers(session, pattern, grade, status, batch, after, limit)


@router.get("/numbers/{msisdn}")
def get_number(msisdn: str, session: SessionDep, _: StockReader) -> NumberPublic:
    return numbers.get_number(session, msisdn)
