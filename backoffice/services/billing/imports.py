"""Import jobs: their reports and their rejected rows."""

import csv
import io
from pathlib import PurePath

from sqlmodel import Session

from backoffice.contracts.billing import ImportReport
from backoffice.models import ImportJob
from backoffice.services import exports
from backoffice.services.billing.tabular import job_report, masked_rows
from backoffice.services.errors import NotFound


def _job(session: Session, job_id: str) -> ImportJob:
    job = session.get(ImportJob, job_id)
    if job is None:
        raise NotFound(f"import {job_id} not found")
    return job


def report(session: Session, job_id: str) -> ImportReport:
    return job_report(_job(session, job_id))


def rejected_rows(session: Session, job_id: str) -> tuple[str, str]:
    """The file name to offer and the CSV of the bad rows with their line and error, every
    cell made safe to open in a spreadsheet (the rows are as the uploader sent them)."""
    job = _job(session, job_id)
    if not job.rejected_rows:
        raise NotFound(f"import {job_id} had no rejected rows")
    rows = masked_rows(csv.reader(io.StringIO(job.rejected_csv, newline="")), job.kind)
    return f"{PurePath(job.file_name).stem}-rejected.csv", exports.csv_text(rows, "\n")
