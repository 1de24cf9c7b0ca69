"""The FastAPI application: routers mounted under /api/v1, error handlers, health check."""

from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from backoffice.api import pages
from backoffice.api.errors import install_error_handlers
from backoffice.api.routes import (
    audit,
    auth,
    billing,
    channel,
    counter,
    settlement,
    statistics,
    users,
)
from backoffice.core.config import Settings, get_settings
from backoffice.db import make_engine

API_PREFIX = "/api/v1"


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        yield
        engine.dispose()

    app = FastAPI(
        title="HaoKa back office",
        summary="Numbers, SIM cards and top-up cards from the billing centre to the counter.",
        version="0.1.0",
        generate_unique_id_function=_operation_id,
        lifespan=lifespan,
        # The default docs pull Swagger UI from a CDN; counters and offices may be offline.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    install_error_handlers(app)

    api = APIRouter(prefix=API_PREFIX)
    for area in (auth, users, billing, audit, channel, counter, settlement, statistics):
        api.include_router(area.router)
    app.include_router(api)
    app.include_router(pages.router)

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="HaoKa back office API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
