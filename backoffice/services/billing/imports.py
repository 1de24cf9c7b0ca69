"""Import jobs: their reports and their rejected rows."""

from pathlib import PurePath

from sqlmodel import Session

from backoffice.contracts.billing import ImportReport
from backoffice.models import ImportJob
from backoffice.services.billing.tabular import job_report
from backoffice.services.errors import NotFound


def _job(session: Session, job_id: str) -> ImportJob:
    job = session.get(ImportJob, job_id)
    if job is None:
        raise NotFound(f"import {job_id} not found")
    return job


def report(session: Session, job_id: str) -> ImportReport:
    return job_report(_job(session, job_id))


def rejected_rows(session: Session, job_id: str) -> tuple[str, str]:
    """The file name to offer and the CSV of the bad rows with their line and error."""
    job = _job(session, job_id)
    if not job.rejected_rows:
        raise NotFound(f"import {job_id} had no rejected rows")
    return f"{PurePath(job.file_name).stem}-rejected.csv", job.rejected_csv
