"""The migration list read model: one row per migration, kept by a tracked projection."""

from __future__ import annotations

import json
import logging
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import Snapshot
from eventsourcing.persistence import Notification, StoredEvent, Tracking
from eventsourcing.utils import get_topic

from application.migration_views import detail_of, format_timestamp
from application.read_models.generations import GenerationalView
from application.read_models.projection import Drift, TrackedProjection
from domain.migration import Migration, Status

MIGRATION_TOPICS: tuple[str, ...] = tuple(
    getattr(Migration, name).TOPIC
    for name in (
        "Created",
        "Started",
        "OutputProduced",
        "RetryScheduled",
        "Failed",
        "Completed",
        "Revoked",
        "RetryRequested",
    )
)
SNAPSHOT_TOPIC = get_topic(Snapshot)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListRow:
    """A migration as the list serves it: filter columns, its detail JSON and its folded state."""

    id: str
    work_id: str
    owner_id: str
    status: str
    type: str
    created: str
    updated: str
    version: int
    detail: str
    state: bytes


@dataclass(frozen=True)
class ListQuery:
    """One page of the list; `owner_id` None means every migration (admins)."""

    owner_id: str | None = None
    status: str | None = None
    work_id: str | None = None
    type: str | None = None
    created_after: str | None = None
    created_before: str | None = None
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class ListPage:
    count: int
    details: list[str]


class MigrationListView(GenerationalView):
    """Where the list rows live, with the projection's tracking position beside them."""

    @abstractmethod
    def load_states(self, ids: Sequence[str]) -> dict[str, tuple[int, bytes]]:
        """The stored (version, state) of each of these migrations that has a row."""

    @abstractmethod
    def save_rows(
        self,
        rows: Sequence[ListRow],
        counts: dict[tuple[str, str, str], int],
        tracking: Tracking,
    ) -> None:
        """Upsert the rows, add `counts` ((owner, work, status) -> change) to the counts, and
        record the tracking position, in one transaction."""

    @abstractmethod
    def page(self, query: ListQuery) -> ListPage:
        """The count and one page of detail JSON documents, newest first."""

    @abstractmethod
    def ids_with_status(
        self,
        statuses: Sequence[str],
        updated_before: str | None = None,
        limit: int | None = None,
    ) -> list[str]:
        """Ids of the migrations whose status is one of `statuses` (and last changed before
        `updated_before`, a timestamp in the views' format, if given), oldest first."""

    @abstractmethod
    def count_by_status(self) -> dict[str, int]:
        """How many migrations are in each status."""

    @abstractmethod
    def sample_ids(self, count: int) -> list[str]:
        """Up to `count` migration ids, at random."""

    @abstractmethod
    def details(self, ids: Sequence[str]) -> dict[str, str]:
        """The stored detail JSON of these migrations."""


class MigrationListProjection(TrackedProjection[MigrationListView]):
    """Folds migration events into list rows; each row keeps its aggregate's folded state."""

    name = "migration_list"
    topics = MIGRATION_TOPICS

    def with_view(self, view: MigrationListView) -> MigrationListProjection:
        return MigrationListProjection(self.log, view, self.batch_size)

    def fold(self, notifications: Sequence[Notification], events: Sequence[Any]) -> None:
        ids = sorted({e.originator_id.hex for e in events})
        stored = self.view.load_states([f"m-{hex_id}" for hex_id in ids])
        folded: dict[UUID, Migration] = {}
        counts: dict[tuple[str, str, str], int] = {}
        for domain_event in events:
            migration = folded.get(domain_event.originator_id)
            if migration is None and not isinstance(domain_event, Migration.Created):
                migration, counted = self._thaw(domain_event, stored)
                if counted is not None:
                    key = (migration.work["owner_id"], migration.work["id"], counted)
                    counts[key] = counts.get(key, 0) - 1
            folded[domain_event.originator_id] = cast(Migration, domain_event.mutate(migration))
        for migration in folded.values():
            key = (migration.work["owner_id"], migration.work["id"], migration.status)
            counts[key] = counts.get(key, 0) + 1
        rows = [self._row_of(migration) for migration in folded.values()]
        tracking = Tracking(self.view.tracking_name, notifications[-1].id)
        self.view.save_rows(rows, {k: n for k, n in counts.items() if n}, tracking)

    def _thaw(
        self, event: Any, stored: dict[str, tuple[int, bytes]]
    ) -> tuple[Migration, str | None]:
        """The migration just before `event`, and the status the counts hold for it (its row's).

        From its row; from the log if the row lags (never expected: positions commit in order)."""
        migration_id: UUID = event.originator_id
        row = stored.get(f"m-{migration_id.hex}")
        from_row: Migration | None = None
        if row is not None:
            snapshot: Any = self.log.mapper.to_domain_event(
                StoredEvent(
                    originator_id=migration_id,
                    originator_version=row[0],
                    topic=SNAPSHOT_TOPIC,
                    state=row[1],
                )
            )
            from_row = cast(Migration, snapshot.mutate(None))
        counted = None if from_row is None else from_row.status
        if from_row is not None and from_row.version == event.originator_version - 1:
            return from_row, counted
        logger.warning("list row of m-%s lags the log; re-folding it", migration_id.hex)
        healed: Any = self.log.repository.get(migration_id, version=event.originator_version - 1)
        return cast(Migration, healed), counted

    def _row_of(self, migration: Migration) -> ListRow:
        state = self.log.mapper.to_stored_event(Snapshot.take(migration)).state
        detail = detail_of(migration)
        return ListRow(
            id=migration.public_id,
            work_id=migration.work["id"],
            owner_id=migration.work["owner_id"],
            status=migration.status,
            type=migration.type,
            created=detail["created"],
            updated=format_timestamp(migration.modified_on),
            version=migration.version,
            detail=json.dumps(detail, separators=(",", ":")),
            state=state,
        )

    def drift(self, sample: int | None) -> list[Drift]:
        """Stored rows that differ from the detail of their re-folded aggregate."""
        self.catch_up()
        if sample is None:
            ids = self.view.ids_with_status([status.value for status in Status])
        else:
            ids = self.view.sample_ids(sample)
        stored = self.view.details(ids)
        found: list[Drift] = []
        for migration_id in ids:
            migration: Migration | None = self.log.get_or_none(
                UUID(hex=migration_id[2:]), Migration
            )
            if migration is None:
                found.append(Drift(migration_id, "a row without events"))
            elif migration.version > self.position_of(migration_id):
                continue  # newer than the view: not drift, lag
            elif json.loads(stored[migration_id]) != detail_of(migration):
                found.append(Drift(migration_id, "row differs from the re-folded aggregate"))
        return found

    def position_of(self, migration_id: str) -> int:
        version, _ = self.view.load_states([migration_id]).get(migration_id, (0, b""))
        return version
