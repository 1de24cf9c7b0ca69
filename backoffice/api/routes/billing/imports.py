"""Import reports and the rejected rows of an import as a downloadable CSV."""

from fastapi import APIRouter
from fastapi.responses import Response

from backoffice.api.deps import BillingClerk, SessionDep, disposition
from backoffice.contracts.billing import ImportReport
from backoffice.services.billing import imports

router = APIRouter(prefix="/imports", tags=["imports"])


@router.get("/{job_id}")
def import_report(job_id: str, session: SessionDep, _: BillingClerk) -> ImportReport:
    return imports.report(session, job_id)


@router.get("/{job_id}/rejected.csv", response_class=Response)
def rejected_rows(job_id: str, session: SessionDep, _: BillingClerk) -> Response:
    file_name, content = imports.rejected_rows(session, job_id)
    return Response(
        content.encode("utf-8-sig"),  # the BOM makes Excel open Chinese text correctly
        media_type="text/csv; charset=utf-8",
        headers=disposition(file_name),
    )
