"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from interface.http.deps import EngineDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(engine: EngineDep) -> JSONResponse:
    """The event store answers."""
    try:
        position = engine.log.recorder.max_notification_id() or 0
    except Exception as problem:  # any store failure means not ready; say which
        return JSONResponse({"status": "unavailable", "detail": str(problem)}, status_code=503)
    return JSONResponse(
        {"status": "ok", "log_position": position, "list_position": engine.list_projection.position}
    )
