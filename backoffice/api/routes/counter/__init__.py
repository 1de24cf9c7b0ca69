"""The counter's routers (terminal sync, and the sales centre's side of it: sales, the
reconciliation queue, the activation outbox, redemption checks), mounted together."""

from fastapi import APIRouter

from backoffice.api.routes.counter import sales, sync

router = APIRouter()
for module in (sync, sales):
    router.include_router(module.router)
