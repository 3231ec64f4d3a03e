"""Ports: what the application needs from the outside world (producers, dispatch)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class WorkSource:
    """A work's source content: a local folder holding manifest.json and the page images."""

    work_id: str
    name: str
    sub_name: str
    owner_id: str
    root: str
    pages: tuple[str, ...]


@dataclass(frozen=True)
class OutputJob:
    """Everything a producer needs to make one output of one migration."""

    migration_id: str
    work: WorkSource
    features: Mapping[str, bool | None]
    encrypted: bool
    unencrypted: bool


@dataclass(frozen=True)
class ProducedOutput:
    """What a producer made: the output's public value and, for web, the reader's script URL."""

    value: dict[str, Any]
    web_script: str | None = None


class OutputProducer(Protocol):
    """Makes one kind of output (web, size_report, ...) and stores its artifacts."""

    name: str

    def produce(self, job: OutputJob) -> ProducedOutput: ...


class RetryableOutputError(Exception):
    """A producer failed for a reason that may pass (timeout, connection error, 5xx)."""


@dataclass(frozen=True)
class WorkManifest:
    """A work bundle's manifest.json, checked: name, sub_name and ordered page paths."""

    name: str
    sub_name: str
    pages: tuple[str, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)


class Dispatcher(Protocol):
    """Hands a migration to an executor; the executor runs it later (not before `at`), elsewhere.

    `task_id` is the migration's stable task id: the executor runs the delivery under it.
    """

    def dispatch(self, migration_id: str, task_id: str, at: datetime | None = None) -> None: ...


@dataclass(frozen=True)
class Lease:
    """A running attempt's claim: renewed by its worker's heartbeat until it ends."""

    migration_id: str
    attempt: int
    worker_id: str
    host: str
    pid: int
    expires_at: datetime


class LeaseStore(Protocol):
    """Where attempts' leases live (beside the read models: not events, they change constantly)."""

    def hold(self, lease: Lease) -> None:
        """Create or renew the lease of this migration's attempt."""

    def release(self, migration_id: str, attempt: int) -> None:
        """The attempt ended: forget its lease."""

    def expired(self, now: datetime, limit: int = 100) -> list[Lease]:
        """Leases whose worker stopped renewing them before `now`."""

    def get(self, migration_id: str) -> Lease | None:
        """The migration's current lease, if an attempt holds one."""


class WorkContent(Protocol):
    """Where works' source files are kept (a local folder by default)."""

    def put(self, work_id: str, manifest: WorkManifest, files: Mapping[str, bytes]) -> None: ...

    def root_of(self, work_id: str) -> str: ...
