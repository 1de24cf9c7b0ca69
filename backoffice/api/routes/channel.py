"""The dealer channel's routers (sales centre and terminals), mounted together."""

from fastapi import APIRouter

from backoffice.api.routes import channel_ops, dealers, stock, sync

router = APIRouter()
for module in (dealers, stock, sync, channel_ops):
    router.include_router(module.router)
