"""The settlement pages: runs, statements, the revenue feed."""

from fastapi import APIRouter

from backoffice.api.pages.settlement import revenue, runs, statements

router = APIRouter(include_in_schema=False)
for part in (runs, statements, revenue):
    router.include_router(part.router)
