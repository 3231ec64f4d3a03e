"""Works: authors upload a zipped bundle (manifest.json + pages) and read it back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import JSONResponse

from application.errors import InvalidInputError, PermissionDeniedError
from application.read_models.work_summary import empty_summary
from application.works import AUTHOR_ONLY, WorkView
from interface.http.deps import CallerDep, EngineDep, RuntimeDep
from interface.http.schemas import WorkPublic
from interface.storage.work_bundles import read_bundle_bytes

router = APIRouter(prefix="/api/authoring/work", tags=["works"])


@router.post("/", status_code=201, response_model=WorkPublic)
def upload_work(
    file: Annotated[UploadFile, File(description="A zip holding manifest.json and the pages")],
    runtime: RuntimeDep,
    caller: CallerDep,
) -> JSONResponse:
    """Register a work from a zipped bundle (author users only)."""
    if not caller.can_deploy:
        raise PermissionDeniedError(AUTHOR_ONLY)
    data = file.file.read(runtime.settings.max_upload_bytes + 1)
    if len(data) > runtime.settings.max_upload_bytes:
        raise InvalidInputError("file: the bundle is larger than the upload limit", field="file")
    manifest, files = read_bundle_bytes(data, max_total_bytes=runtime.settings.max_upload_bytes)
    work = runtime.engine.works.register(caller, manifest, files)
    body = _public(work)
    return JSONResponse(body, status_code=201, headers={"Location": str(body["resource_uri"])})


@router.get("/{pk}/", response_model=WorkPublic)
def work_detail(pk: str, engine: EngineDep, caller: CallerDep) -> JSONResponse:
    """Retrieve a work you own."""
    return JSONResponse(_public(engine.works.get(caller, pk)))


@router.get("/{pk}/summary/")
def work_summary(pk: str, engine: EngineDep, caller: CallerDep) -> JSONResponse:
    """A work's deployments: count by status, the last success and its outputs, output bytes."""
    work = engine.works.get(caller, pk)
    summary = engine.work_summary.summary(work.id)
    if summary is None:
        summary = empty_summary(work.id, work.owner_id)
    body = dict(summary)
    body["resource_uri"] = f"/api/authoring/work/{work.id}/summary/"
    return JSONResponse(body)


def _public(work: WorkView) -> dict[str, object]:
    return {
        "id": work.id,
        "name": work.name,
        "sub_name": work.sub_name,
        "owner_id": work.owner_id,
        "pages": list(work.pages),
        "resource_uri": f"/api/authoring/work/{work.id}/",
    }
