"""The HTTP shapes: request bodies checked by Pydantic, responses as the seed documents them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr


class MigrationCreate(BaseModel):
    """POST /api/authoring/migration/ body."""

    model_config = ConfigDict(extra="ignore")

    work_id: StrictStr = Field(max_length=64)
    features: dict[str, StrictBool | None] | None = None
    type: StrictStr = Field(default="deployment", max_length=64)
    primary: StrictBool = True
    encrypted: StrictBool = True
    unencrypted: StrictBool = False
    project_id: StrictStr | None = Field(default=None, max_length=200)
    master_project_id: StrictStr | None = Field(default=None, max_length=200)


class MigrationRevoke(BaseModel):
    """POST .../<pk>/revoke/ body (optional)."""

    reason: StrictStr | None = Field(default=None, max_length=1000)


class WorkSummaryPublic(BaseModel):
    id: str
    name: str
    sub_name: str
    owner_id: str


class MigrationPublic(BaseModel):
    """A migration, exactly the seed's keys."""

    master_project_id: str | None
    updated: str
    features: dict[str, bool | None]
    task_id: str | None
    created: str
    outputs: dict[str, dict[str, Any] | None]
    work: WorkSummaryPublic
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


class MigrationList(BaseModel):
    count: int
    next: str | None
    previous: str | None
    results: list[MigrationPublic]


class MigrationStatus(BaseModel):
    status: str
    host: str | None
    pid: int | None
    id: str | None
    result: bool | str | None


class SignIn(BaseModel):
    email: StrictStr = Field(max_length=254)
    password: StrictStr = Field(max_length=1024)


class UserPublic(BaseModel):
    id: str
    email: str
    role: str


class SignedInPublic(BaseModel):
    token: str
    user: UserPublic


class WorkPublic(BaseModel):
    id: str
    name: str
    sub_name: str
    owner_id: str
    pages: list[str]
    resource_uri: str
