"""Channel stock documents: allocation, delivery note PDF, receipt, returns, transfers,
stock counts, discrepancies, and an outlet's stock."""

from typing import Literal

from fastapi import APIRouter, Response, status

from backoffice.api.deps import ChannelReader, SalesCentre, SessionDep, dealer_scope, disposition
from backoffice.contracts.channel import (
    AllocationRequest,
    ChannelDocumentPublic,
    DiscrepancyPublic,
    DiscrepancyResolution,
    ItemsIn,
    ReceiptIn,
    ReceiptResult,
    StockCountResult,
    StockItemPublic,
    TransferIn,
)
from backoffice.contracts.common import Int32
from backoffice.services.channel import (
    allocation,
    dealers,
    delivery_note,
    items,
    movements,
    receipts,
)

router = APIRouter(tags=["stock"])


@router.post("/allocations", status_code=status.HTTP_201_CREATED)
def allocate(
    request: AllocationRequest, session: SessionDep, clerk: SalesCentre
) -> ChannelDocumentPublic:
    return allocation.allocate(session, request, clerk.username)


@router.get("/stock-documents/{number}")
def get_document(number: str, session: SessionDep, user: ChannelReader) -> ChannelDocumentPublic:
    document = items.find_channel_document(session, number, dealer_scope(user))
    return items.channel_document(session, document)


@router.get(
    "/stock-documents/{number}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def delivery_note_pdf(number: str, session: SessionDep, user: ChannelReader) -> Response:
    items.find_channel_document(session, number, dealer_scope(user))
    pdf = delivery_note.render_delivery_note(session, number)
    return Response(
        pdf,
        media_type="application/pdf",
        headers=disposition(f"{number.upper()}.pdf", "inline"),
    )


# Receipts and counts are the outlet's acts, made at its terminal (sync); the sales centre
# records one here on an outlet's behalf. Managers and dealer managers only read.
@router.post("/receipts")
def receive(request: ReceiptIn, session: SessionDep, clerk: SalesCentre) -> ReceiptResult:
    items.find_channel_document(session, request.document_number, dealer_scope(clerk))
    return receipts.receive(session, request.document_number, request.items, clerk.username)


@router.get("/discrepancies")
def list_discrepancies(
    session: SessionDep, user: ChannelReader, status: Literal["open", "resolved"] | None = "open"
) -> list[DiscrepancyPublic]:
    rows = receipts.list_discrepancies(session, status, dealer_scope(user))
    return [DiscrepancyPublic.model_validate(r) for r in rows]


@router.post("/discrepancies/{discrepancy_id}/resolve")
def resolve_discrepancy(
    discrepancy_id: Int32, request: DiscrepancyResolution, session: SessionDep, clerk: SalesCentre
) -> DiscrepancyPublic:
    row = receipts.resolve_discrepancy(session, discrepancy_id, request, clerk.username)
    return DiscrepancyPublic.model_validate(row)


@router.post("/returns-to-centre", status_code=status.HTTP_201_CREATED)
def return_to_centre(
    request: ItemsIn, session: SessionDep, clerk: SalesCentre
) -> ChannelDocumentPublic:
    return movements.return_to_centre(session, request, clerk.username)


@router.post("/transfers", status_code=status.HTTP_201_CREATED)
def transfer(request: TransferIn, session: SessionDep, clerk: SalesCentre) -> ChannelDocumentPublic:
    return movements.transfer(session, request, clerk.username)


@router.post("/stock-counts", status_code=status.HTTP_201_CREATED)
def stock_count(request: ItemsIn, session: SessionDep, clerk: SalesCentre) -> StockCountResult:
    outlet = dealers.find_outlet(session, request.outlet, dealer_scope(clerk))
    return movements.stock_count(session, outlet.id, request.items, clerk.username)


@router.get("/outlets/{key}/stock")
def outlet_stock(key: str, session: SessionDep, user: ChannelReader) -> list[StockItemPublic]:
    return movements.outlet_stock(session, key, dealer_scope(user))
