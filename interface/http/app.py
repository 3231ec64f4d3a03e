"""The FastAPI application: routes, error handlers, body limits, outputs, engine lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from application.settings import Settings
from interface.http.errors import install_error_handlers
from interface.http.limits import BodyLimit
from interface.http.routes import auth, health, history, metrics, migrations, works
from interface.runtime import Runtime, build_runtime


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """The API on `runtime` (or one built from `settings` at start-up, closed at shutdown)."""
    settings = runtime.settings if runtime is not None else (settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        active = runtime if runtime is not None else build_runtime(settings)
        app.state.runtime = active
        if owned:
            active.start()
        try:
            yield
        finally:
            if owned:
                active.close()

    app = FastAPI(
        title="Migration engine",
        description="Event-sourced deployments of comic works (Madefire authoring API).",
        version="0.1.0",
        lifespan=lifespan,
    )
    if runtime is not None:
        app.state.runtime = runtime
    install_error_handlers(app)
    routers = [module.router for module in (migrations, history, works, auth, health, metrics)]
    for router in routers:
        app.include_router(router)
    # For 405 answers: the methods every route serves, by path (see errors._allowed_methods).
    app.state.route_methods = [
        (route.path_regex, set(route.methods or ()))
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    settings.ensure_dirs()
    app.mount("/outputs", StaticFiles(directory=settings.outputs_dir), name="outputs")
    app.add_middleware(
        BodyLimit,
        max_body=settings.max_body_bytes,
        max_upload=settings.max_upload_bytes,
        upload_prefix="/api/authoring/work/",
    )
    return app
