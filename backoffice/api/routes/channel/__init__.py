"""The dealer channel's routers (dealers, outlets, terminals, prices, stock documents), mounted
together."""

from fastapi import APIRouter

from backoffice.api.routes.channel import dealers, stock

router = APIRouter()
for module in (dealers, stock):
    router.include_router(module.router)
