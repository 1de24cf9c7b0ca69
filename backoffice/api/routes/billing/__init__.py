"""The billing centre's routers (营账: numbers, grading, SIM cards, top-up cards, holds and
the other single-item lifecycle moves, releases, imports), mounted together."""

from fastapi import APIRouter

from backoffice.api.routes.billing import (
    grading,
    holds,
    imports,
    numbers,
    releases,
    sims,
    vouchers,
)

router = APIRouter()
for module in (grading, numbers, sims, vouchers, holds, releases, imports):
    router.include_router(module.router)
