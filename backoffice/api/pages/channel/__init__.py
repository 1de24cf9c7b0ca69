"""The sales centre's pages (销售中心): dealers and outlets, stock documents, the
reconciliation queue; one router module per part."""

from fastapi import APIRouter

from backoffice.api.pages.channel import dealers, reconciliation, stock

router = APIRouter(include_in_schema=False)
for part in (dealers, stock, reconciliation):
    router.include_router(part.router)
