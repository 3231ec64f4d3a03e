"""Every error as JSON {"detail": ...}, DRF style; domain and use-case errors mapped to codes."""

from __future__ import annotations

import logging

from eventsourcing.persistence import OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from application.errors import (
    ConflictError,
    InvalidInputError,
    NotAuthenticatedError,
    NotFoundError,
    PermissionDeniedError,
)
from domain.errors import DomainError, IllegalTransitionError
from interface.storage.work_bundles import BundleError

logger = logging.getLogger(__name__)

DEFAULT_DETAILS = {
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
}


def error(status: int, detail: str, **extra: object) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


def _field_of(loc: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    fields: dict[str, list[str]] = {}
    for problem in exc.errors():
        if problem.get("type") == "json_invalid":
            return error(400, "JSON parse error: the body is not valid JSON.")
        name = _field_of(tuple(problem.get("loc", ())))
        fields.setdefault(name, []).append(str(problem.get("msg", "invalid")))
    detail = "; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in fields.items())
    return error(400, detail, errors=fields)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else DEFAULT_DETAILS.get(exc.status_code)
    if exc.status_code == 404 and detail == "Not Found":
        detail = "Not found."
    if exc.status_code == 405:
        detail = f'Method "{request.method}" not allowed.'
    response = error(exc.status_code, str(detail or "Error."))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(_allowed_methods(request))
    return response


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for pattern, served in request.app.state.route_methods:
        if pattern.match(request.url.path):
            methods |= served
    order = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return sorted(methods, key=lambda name: order.index(name) if name in order else len(order))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]

    @app.exception_handler(InvalidInputError)
    async def _invalid(_: Request, exc: InvalidInputError) -> JSONResponse:
        return error(400, str(exc))

    @app.exception_handler(BundleError)
    async def _bundle(_: Request, exc: BundleError) -> JSONResponse:
        return error(400, f"file: {exc}")

    @app.exception_handler(NotAuthenticatedError)
    async def _unauthenticated(_: Request, exc: NotAuthenticatedError) -> JSONResponse:
        return error(401, str(exc))

    @app.exception_handler(PermissionDeniedError)
    async def _forbidden(_: Request, exc: PermissionDeniedError) -> JSONResponse:
        return error(403, str(exc))

    @app.exception_handler(NotFoundError)
    async def _not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return error(404, str(exc))

    @app.exception_handler(ConflictError)
    async def _conflict(_: Request, exc: ConflictError) -> JSONResponse:
        return error(409, str(exc))

    @app.exception_handler(IllegalTransitionError)
    async def _illegal(_: Request, exc: IllegalTransitionError) -> JSONResponse:
        return error(409, str(exc), current_status=exc.status)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return error(400, str(exc))

    @app.exception_handler(OperationalError)
    async def _store_down(_: Request, exc: OperationalError) -> JSONResponse:
        logger.error("event store unavailable: %s", exc)
        return error(503, "The event store is unavailable; try again shortly.")
