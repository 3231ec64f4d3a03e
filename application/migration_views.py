"""Plain-data views of a migration: the seed's detail and status shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypedDict

from domain.migration import OUTPUTS, Migration, Status

API_ROOT = "/api/authoring/migration/"


class WorkSummary(TypedDict):
    id: str
    name: str
    sub_name: str
    owner_id: str


class MigrationDetail(TypedDict):
    master_project_id: str | None
    updated: str
    features: dict[str, bool | None]
    task_id: str | None
    created: str
    outputs: dict[str, dict[str, Any] | None]
    work: WorkSummary
    primary: bool
    failed: bool
    encrypted: bool
    web_script: str | None
    complete: bool
    requester: dict[str, str | None]
    unencrypted: bool
    project_id: str | None
    type: str
    id: str
    work_id: str
    resource_uri: str


class MigrationStatusView(TypedDict):
    status: str
    host: str | None
    pid: int | None
    id: str | None
    result: bool | str | None


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with microseconds and Z, as the seed shows: 2017-04-11T22:13:04.028310Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def detail_of(migration: Migration) -> MigrationDetail:
    public_id = migration.public_id
    work = migration.work
    return {
        "master_project_id": migration.master_project_id,
        "updated": format_timestamp(migration.modified_on),
        "features": dict(migration.features),
        "task_id": migration.task_id,
        "created": format_timestamp(migration.created_on),
        "outputs": {name: migration.outputs.get(name) for name in OUTPUTS},
        "work": {
            "id": work["id"],
            "name": work["name"],
            "sub_name": work["sub_name"],
            "owner_id": work["owner_id"],
        },
        "primary": migration.primary,
        "failed": migration.status == Status.FAILURE,
        "encrypted": migration.encrypted,
        "web_script": migration.web_script,
        "complete": migration.status == Status.SUCCESS,
        "requester": {"id": migration.requester_id},
        "unencrypted": migration.unencrypted,
        "project_id": migration.project_id,
        "type": migration.type,
        "id": public_id,
        "work_id": work["id"],
        "resource_uri": f"{API_ROOT}{public_id}/",
    }


def status_of(migration: Migration) -> MigrationStatusView:
    result: bool | str | None = None
    if migration.status == Status.SUCCESS:
        result = True
    elif migration.status in (Status.FAILURE, Status.RETRY):
        result = migration.error
    return {
        "status": migration.status,
        "host": migration.host,
        "pid": migration.pid,
        "id": migration.task_id,
        "result": result,
    }
