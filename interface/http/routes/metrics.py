"""Prometheus metrics in the text exposition format: the log, the read models, the statuses."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from domain.migration import Status
from interface.http.deps import EngineDep

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(engine: EngineDep) -> PlainTextResponse:
    """Log head, read-model positions and lag, and migrations by status (from the list)."""
    lines = [
        "# HELP migration_engine_log_head Position of the last event in the log.",
        "# TYPE migration_engine_log_head gauge",
    ]
    states = engine.read_models.status()
    head = states[0].head if states else (engine.log.recorder.max_notification_id() or 0)
    lines.append(f"migration_engine_log_head {head}")
    lines += [
        "# HELP migration_engine_read_model_position Last log position folded into a read model.",
        "# TYPE migration_engine_read_model_position gauge",
    ]
    lines += [
        f'migration_engine_read_model_position{{read_model="{s.name}"}} {s.position}'
        for s in states
    ]
    lines += [
        "# HELP migration_engine_read_model_lag Events in the log not yet in a read model.",
        "# TYPE migration_engine_read_model_lag gauge",
    ]
    lines += [f'migration_engine_read_model_lag{{read_model="{s.name}"}} {s.lag}' for s in states]
    counts = engine.list_projection.view.count_by_status()
    lines += [
        "# HELP migration_engine_migrations Migrations by status (from the list read model).",
        "# TYPE migration_engine_migrations gauge",
    ]
    lines += [
        f'migration_engine_migrations{{status="{status.value}"}} {counts.get(status.value, 0)}'
        for status in Status
    ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
