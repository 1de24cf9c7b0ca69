"""The billing centre's routers (营账: numbers, grading, SIM cards, top-up cards, releases,
imports), mounted together."""

from fastapi import APIRouter

from backoffice.api.routes.billing import grading, imports, numbers, releases, sims, vouchers

router = APIRouter()
for module in (grading, numbers, sims, vouchers, releases, imports):
    router.include_router(module.router)
