"""The FastAPI application: routers mounted under /api/v1, error handlers, health check."""

from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from backoffice.api import docs_pages, pages
from backoffice.api.admission import Admission
from backoffice.api.errors import install_error_handlers
from backoffice.api.headers import SecurityHeaders
from backoffice.api.inputs import (
    BODY_LIMIT_BYTES,
    FORM_OVERHEAD_BYTES,
    BodyLimit,
    document_json_bodies,
    refuse_nul_parameters,
)
from backoffice.api.routes import (
    audit,
    auth,
    billing,
    channel,
    counter,
    jobs,
    settlement,
    statistics,
    users,
)
from backoffice.core import logging as logs
from backoffice.core.config import Settings, get_settings
from backoffice.db import make_engine
from backoffice.services.job_kinds import Runner

API_PREFIX = "/api/v1"


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # However the server was started, its log handlers redact personal data and secrets.
    logs.install()
    engine = make_engine(settings.database_url, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        # The threads routes and their dependencies run on (admission.py counts on them).
        to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        # Jobs on connections of their own: the requests' pool is sized for the requests.
        runner = Runner(make_engine(settings.database_url), settings) if settings.run_jobs else None
        if runner is not None:
            runner.start()
        yield
        if runner is not None:
            runner.stop()
            runner.engine.dispose()
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
        # Hostile input: no NUL in any path, query or form parameter.
        dependencies=[Depends(refuse_nul_parameters)],
    )
    app.state.settings = settings
    app.state.engine = engine
    install_error_handlers(app)

    api = APIRouter(prefix=API_PREFIX)
    # The counter's first: routes are matched in order, and terminal sync is the busiest.
    for area in (counter, auth, users, billing, audit, channel, settlement, statistics, jobs):
        api.include_router(area.router)
    app.include_router(api)
    document_json_bodies(app)
    pages.install(app)
    # Innermost of the middlewares: a request turned away still gets the security headers.
    app.add_middleware(Admission, settings=settings)
    app.add_middleware(SecurityHeaders)
    # No body past what its route takes (the import routes: the largest import file and room
    # for its form), counted while it arrives.
    app.add_middleware(
        BodyLimit,
        limit=BODY_LIMIT_BYTES,
        large=settings.import_max_upload_bytes + FORM_OVERHEAD_BYTES,
    )

    docs_pages.install(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
