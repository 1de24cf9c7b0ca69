"""Release documents (放号): batches leave the billing centre for the channel pool."""

from fastapi import APIRouter, status

from backoffice.api.deps import BillingClerk, SessionDep, StockReader
from backoffice.contracts.billing import ReleaseRequest
from backoffice.contracts.common import DocumentPublic
from backoffice.services.billing import releases

router = APIRouter(prefix="/releases", tags=["releases"])


@router.post("", status_code=status.HTTP_201_CREATED)
def release(request: ReleaseRequest, session: SessionDep, clerk: BillingClerk) -> DocumentPublic:
    if request.item_kind == "numbers":
        return releases.release_numbers(session, request.batch, clerk.username, request.note)
    return releases.release_vouchers(session, request.batch, clerk.username, request.note)


@router.get("/{number}")
def release_document(number: str, session: SessionDep, _: StockReader) -> DocumentPublic:
    return releases.release_document(session, number)
