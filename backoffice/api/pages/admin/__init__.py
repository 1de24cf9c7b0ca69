"""The administrators' pages (系统管理员), one router module per part."""

from fastapi import APIRouter

from backoffice.api.pages.admin import system, users

router = APIRouter(include_in_schema=False)
for part in (users, system):
    router.include_router(part.router)
