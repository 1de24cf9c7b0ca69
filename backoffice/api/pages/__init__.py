"""The back office's web pages, one router module per area (templates in a folder per area
under api/templates), mounted together."""

from fastapi import APIRouter

from backoffice.api.pages import auth, statistics

router = APIRouter(include_in_schema=False)
for area in (auth, statistics):
    router.include_router(area.router)
