"""A migration's audit history: every event in order, paginated like the list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from interface.http.deps import CallerDep, EngineDep
from interface.http.options import options_response

router = APIRouter(prefix="/api/authoring/migration", tags=["audit"])


@router.get("/{pk}/history/")
def migration_history(
    pk: str,
    request: Request,
    engine: EngineDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JSONResponse:
    """Every event of a migration in order: version, type, timestamp, data (and its chain hash)."""
    page = engine.audit.history(caller, pk, limit=limit, offset=offset)
    url = request.url
    return JSONResponse(
        {
            "count": page.count,
            "next": str(url.include_query_params(limit=limit, offset=offset + limit))
            if offset + limit < page.count
            else None,
            "previous": str(url.include_query_params(limit=limit, offset=max(offset - limit, 0)))
            if offset > 0
            else None,
            "results": [
                {
                    "version": entry.version,
                    "type": entry.type,
                    "timestamp": entry.timestamp,
                    "data": entry.data,
                    "chain": entry.chain,
                }
                for entry in page.entries
            ],
        }
    )


@router.options("/{pk}/history/")
def history_options() -> JSONResponse:
    return options_response(
        "Migration History", "Every event of a migration, in order.", ["GET", "OPTIONS"]
    )
