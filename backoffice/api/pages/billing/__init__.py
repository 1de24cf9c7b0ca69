"""The billing centre's pages (营账员), one router module per part."""

from fastapi import APIRouter

from backoffice.api.pages.billing import grading, numbers, stock

router = APIRouter(include_in_schema=False)
for part in (stock, numbers, grading):
    router.include_router(part.router)
