"""Migrations: the documented use cases (create, detail, status, list) and their visibility."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from application.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from application.event_log import EventLog
from application.migration_views import (
    MigrationDetail,
    MigrationStatusView,
    detail_of,
    format_timestamp,
    status_of,
)
from application.ports import Dispatcher
from application.read_models.migration_list import ListPage, ListQuery, MigrationListProjection
from application.users import Caller
from application.works import AUTHOR_ONLY, Works
from domain.errors import InvalidFeatureError, InvalidIdError
from domain.ids import MIGRATION, parse_id
from domain.migration import Migration, check_features, requested_outputs

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreateMigration:
    """The create request's fields, already of the right types."""

    work_id: str
    features: Mapping[str, bool | None] = field(default_factory=dict)
    type: str = "deployment"
    primary: bool = True
    encrypted: bool = True
    unencrypted: bool = False
    project_id: str | None = None
    master_project_id: str | None = None

    def digest(self) -> str:
        body = asdict(self)
        body["features"] = dict(self.features)
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Created:
    detail: MigrationDetail
    created: bool
    """False when an Idempotency-Key named a migration created before."""


class Migrations:
    """Use cases of migrations, as authors and admins call them."""

    def __init__(
        self,
        log: EventLog,
        works: Works,
        projection: MigrationListProjection,
        available_outputs: frozenset[str],
        read_your_writes_timeout: float = 5.0,
    ) -> None:
        self.log = log
        self.works = works
        self.projection = projection
        self.available_outputs = available_outputs
        self.read_your_writes_timeout = read_your_writes_timeout
        self.dispatcher: Dispatcher | None = None

    def create(
        self, caller: Caller, request: CreateMigration, idempotency_key: str | None = None
    ) -> Created:
        """Record a new migration (PENDING) and hand it to the executor."""
        if not caller.can_deploy:
            raise PermissionDeniedError(AUTHOR_ONLY)
        work = self.works.owned(caller, request.work_id)
        try:
            features = check_features(request.features)
        except InvalidFeatureError as error:
            raise InvalidInputError(f"features: {error}", field="features") from None
        unserved = [
            name for name in requested_outputs(features) if name not in self.available_outputs
        ]
        if features.get("deviant_art") and "stash" not in self.available_outputs:
            unserved.append("deviant_art")  # published to DeviantArt through the Sta.sh upload
        if unserved:
            raise InvalidInputError(
                f"features: no producer serves output(s) {', '.join(unserved)} on this server",
                field="features",
            )
        try:
            migration = Migration.request(
                work=work.summary(),
                requester_id=caller.user_id,
                features=features,
                type=request.type,
                primary=request.primary,
                encrypted=request.encrypted,
                unencrypted=request.unencrypted,
                project_id=request.project_id,
                master_project_id=request.master_project_id,
                idempotency_key=idempotency_key,
                request_digest=request.digest(),
            )
        except InvalidFeatureError as error:
            raise InvalidInputError(f"type: {error}", field="type") from None
        try:
            recordings = self.log.save(migration)
        except IntegrityError:
            return self._replay_idempotent(migration.id, request)
        self.projection.poke()
        self._dispatch(migration)
        self._read_your_write(recordings[-1].notification.id)
        return Created(detail=detail_of(migration), created=True)

    def _replay_idempotent(self, migration_id: UUID, request: CreateMigration) -> Created:
        existing: Migration | None = self.log.get_or_none(migration_id, Migration)
        if existing is None or existing.request_digest != request.digest():
            raise ConflictError("Idempotency-Key was already used with a different request body")
        return Created(detail=detail_of(existing), created=False)

    def detail(
        self,
        caller: Caller,
        migration_id: str,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> MigrationDetail:
        """The detail view, now or as it was at `version` or at the moment `as_of`."""
        return detail_of(self.visible(caller, migration_id, version, as_of))

    def status(
        self,
        caller: Caller,
        migration_id: str,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> MigrationStatusView:
        return status_of(self.visible(caller, migration_id, version, as_of))

    def page(self, caller: Caller, query: ListQuery) -> ListPage:
        """A page of the list read model, restricted to what the caller may see."""
        if not caller.is_admin:
            query = ListQuery(**{**asdict(query), "owner_id": caller.user_id})
        return self.projection.view.page(query)

    def visible(
        self,
        caller: Caller,
        migration_id: str,
        version: int | None = None,
        as_of: datetime | None = None,
        *,
        to_change: bool = False,
    ) -> Migration:
        """The migration (as it was, if asked), if the caller may see it; else not found.

        Unless `to_change`, the caller must not change it (it may be the cached copy)."""
        try:
            uuid = parse_id(MIGRATION, migration_id)
        except InvalidIdError as error:
            raise NotFoundError(str(error)) from None
        migration: Migration | None = self.log.get_or_none(uuid, Migration, to_read=not to_change)
        if migration is None or not (
            caller.is_admin or migration.work["owner_id"] == caller.user_id
        ):
            raise NotFoundError("Not found.")
        if as_of is not None:
            version = self._version_at(migration, as_of)
        if version is not None:
            if version < 1 or version > migration.version:
                raise NotFoundError(
                    f"version {version} of {migration_id} does not exist "
                    f"(versions 1 to {migration.version})"
                )
            migration = self.log.repository.get(uuid, version=version)
        return migration

    def _version_at(self, migration: Migration, as_of: datetime) -> int:
        if as_of < migration.created_on:
            raise NotFoundError(
                f"{migration.public_id} did not exist yet at {format_timestamp(as_of)} "
                f"(created {format_timestamp(migration.created_on)})"
            )
        version = 1
        events: list[Any] = list(self.log.events.get(migration.id))
        for event in events:
            if event.timestamp > as_of:
                break
            version = event.originator_version
        return version

    def revoke(
        self, caller: Caller, migration_id: str, reason: str | None = None
    ) -> MigrationDetail:
        """Cancel the migration, durably; a running attempt stops before its next output."""
        migration = self._change(
            caller, migration_id, lambda m: m.revoke(by=caller.user_id, reason=reason)
        )
        return detail_of(migration)

    def retry(self, caller: Caller, migration_id: str) -> MigrationDetail:
        """Run a failed migration again, keeping the outputs it already produced."""
        migration = self._change(caller, migration_id, lambda m: m.request_retry(by=caller.user_id))
        self._dispatch(migration)
        return detail_of(migration)

    def _read_your_write(self, position: int) -> None:
        # The write is durable: a lagging or failing list must not turn it into an error.
        try:
            if not self.projection.wait_for(position, self.read_your_writes_timeout):
                logger.warning("the list did not reach position %d in time", position)
        except Exception:
            logger.exception("the list could not fold position %d", position)

    def _dispatch(self, migration: Migration) -> None:
        if self.dispatcher is None:
            return
        try:
            self.dispatcher.dispatch(migration.public_id, migration.task_id)
        except Exception:  # the broker is down: the migration is recorded, the sweeper resends it
            logger.exception("could not dispatch %s; it will be sent again", migration.public_id)

    def _change(
        self, caller: Caller, migration_id: str, command: Callable[[Migration], None]
    ) -> Migration:
        # A worker may append between our load and save: load again and re-check the guard.
        for _ in range(10):
            migration = self.visible(caller, migration_id, to_change=True)
            command(migration)
            try:
                recordings = self.log.save(migration)
            except IntegrityError:
                continue
            self.projection.poke()
            self._read_your_write(recordings[-1].notification.id)
            return migration
        raise ConflictError(f"{migration_id} keeps changing; try again")

    def unfinished(self) -> list[str]:
        """Migrations a previous process left PENDING, STARTED or RETRY (to dispatch again)."""
        self.projection.catch_up()
        return self.projection.view.ids_with_status(["PENDING", "STARTED", "RETRY"])
