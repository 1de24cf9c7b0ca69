"""The settlement pages: runs, statements, the revenue feed."""

from fastapi import APIRouter

from backoffice.api.pages.settlement import statements

router = APIRouter(include_in_schema=False)
router.include_router(statements.router)
