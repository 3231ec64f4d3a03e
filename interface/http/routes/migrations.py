"""The seed's migration endpoints: list/create, detail, status (and OPTIONS on each)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from application.errors import InvalidInputError
from application.migration_views import format_timestamp
from application.migrations import CreateMigration
from application.read_models.migration_list import ListQuery
from domain.migration import MIGRATION_TYPES, Status
from interface.http.deps import CallerDep, EngineDep
from interface.http.options import options_response
from interface.http.schemas import (
    MigrationCreate,
    MigrationList,
    MigrationPublic,
    MigrationRevoke,
    MigrationStatus,
)

router = APIRouter(prefix="/api/authoring/migration", tags=["migrations"])

MAX_LIMIT = 100


@router.get("/", response_model=MigrationList)
def list_migrations(
    request: Request,
    engine: EngineDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: Annotated[str | None, Query(max_length=16)] = None,
    work_id: Annotated[str | None, Query(max_length=64)] = None,
    type: Annotated[str | None, Query(max_length=64)] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> Response:
    """List the migrations you may see, newest first."""
    if status is not None and status not in {s.value for s in Status}:
        raise InvalidInputError(
            f"status: must be one of {', '.join(s.value for s in Status)}", field="status"
        )
    if type is not None and type not in MIGRATION_TYPES:
        raise InvalidInputError(f"type: must be one of {', '.join(MIGRATION_TYPES)}", field="type")
    limit = min(limit, MAX_LIMIT)
    page = engine.migrations.page(
        caller,
        ListQuery(
            status=status,
            work_id=work_id,
            type=type,
            created_after=_timestamp(created_after, "created_after"),
            created_before=_timestamp(created_before, "created_before"),
            limit=limit,
            offset=offset,
        ),
    )
    base = request.url
    next_url = (
        str(base.include_query_params(limit=limit, offset=offset + limit))
        if offset + limit < page.count
        else None
    )
    previous_url = None
    if offset > 0:
        previous_offset = max(offset - limit, 0)
        previous_url = (
            str(base.include_query_params(limit=limit, offset=previous_offset))
            if previous_offset
            else str(base.remove_query_params("offset").include_query_params(limit=limit))
        )
    # The rows already hold each migration's JSON: splice them rather than re-encode.
    body = (
        f'{{"count":{page.count},"next":{json.dumps(next_url)},'
        f'"previous":{json.dumps(previous_url)},"results":[{",".join(page.details)}]}}'
    )
    return Response(body, media_type="application/json")


@router.post("/", status_code=201, response_model=MigrationPublic)
def create_migration(
    body: MigrationCreate,
    engine: EngineDep,
    caller: CallerDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    """Create a migration (author users only); it runs by itself."""
    created = engine.migrations.create(
        caller,
        CreateMigration(
            work_id=body.work_id,
            features=body.features or {},
            type=body.type,
            primary=body.primary,
            encrypted=body.encrypted,
            unencrypted=body.unencrypted,
            project_id=body.project_id,
            master_project_id=body.master_project_id,
        ),
        idempotency_key=idempotency_key or None,
    )
    detail: dict[str, Any] = dict(created.detail)
    return JSONResponse(
        detail,
        status_code=201 if created.created else 200,
        headers={"Location": detail["resource_uri"]},
    )


@router.options("/")
def list_options() -> JSONResponse:
    return options_response(
        "Migration Create List",
        "Create a migration.\n\nMust be an author user to perform this action.",
        ["GET", "POST", "OPTIONS"],
    )


@dataclass(frozen=True)
class PointInTime:
    """`?version=N` or `?as_of=TS`: a view as it was (neither: as it is)."""

    version: int | None = None
    as_of: datetime | None = None


def point_in_time(version: int | None = None, as_of: datetime | None = None) -> PointInTime:
    if version is not None and as_of is not None:
        raise InvalidInputError("give either version or as_of, not both", field="as_of")
    if as_of is not None and as_of.tzinfo is None:
        raise InvalidInputError("as_of: give a timezone, e.g. 2017-04-11T22:13:04Z", field="as_of")
    return PointInTime(version, as_of)


PointInTimeDep = Annotated[PointInTime, Depends(point_in_time)]


@router.get("/{pk}/", response_model=MigrationPublic)
def migration_detail(
    pk: str, engine: EngineDep, caller: CallerDep, at: PointInTimeDep
) -> JSONResponse:
    """Retrieve an individual asset migration's data (as it was at `version` or `as_of`)."""
    detail = engine.migrations.detail(caller, pk, version=at.version, as_of=at.as_of)
    return JSONResponse(dict(detail))


@router.options("/{pk}/")
def detail_options() -> JSONResponse:
    return options_response(
        "Migration Detail", "Retrieve an individual asset migration's data.", ["GET", "OPTIONS"]
    )


@router.get("/{pk}/status/", response_model=MigrationStatus)
def migration_status(
    pk: str, engine: EngineDep, caller: CallerDep, at: PointInTimeDep
) -> JSONResponse:
    """Retrieve the status of a migration by its ID (as it was at `version` or `as_of`)."""
    status = engine.migrations.status(caller, pk, version=at.version, as_of=at.as_of)
    return JSONResponse(dict(status))


@router.options("/{pk}/status/")
def status_options() -> JSONResponse:
    return options_response(
        "Migration Status", "Retrieve the status of a migration by its ID.", ["GET", "OPTIONS"]
    )


@router.post("/{pk}/revoke/", response_model=MigrationPublic)
def revoke_migration(
    pk: str, engine: EngineDep, caller: CallerDep, body: MigrationRevoke | None = None
) -> JSONResponse:
    """Revoke a migration: no further output is produced (owner or admin)."""
    reason = body.reason if body is not None else None
    return JSONResponse(dict(engine.migrations.revoke(caller, pk, reason=reason)))


@router.options("/{pk}/revoke/")
def revoke_options() -> JSONResponse:
    return options_response(
        "Migration Revoke",
        "Revoke a migration: no further output is produced.",
        ["POST", "OPTIONS"],
    )


@router.post("/{pk}/retry/", response_model=MigrationPublic)
def retry_migration(pk: str, engine: EngineDep, caller: CallerDep) -> JSONResponse:
    """Run a failed migration again, keeping the outputs it produced (owner or admin)."""
    return JSONResponse(dict(engine.migrations.retry(caller, pk)))


@router.options("/{pk}/retry/")
def retry_options() -> JSONResponse:
    return options_response("Migration Retry", "Run a failed migration again.", ["POST", "OPTIONS"])


def _timestamp(moment: datetime | None, field: str) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InvalidInputError(f"{field}: give a timezone, e.g. 2017-04-11T22:13:04Z", field=field)
    return format_timestamp(moment)
