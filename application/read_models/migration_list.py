"""The migration list read model: one row per migration, kept by a tracked projection."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import Snapshot
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking, TrackingRecorder
from eventsourcing.utils import get_topic

from application.event_log import EventLog
from application.migration_views import detail_of, format_timestamp
from domain.migration import Migration

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


class MigrationListView(TrackingRecorder, ABC):
    """Where the list rows live, with the projection's tracking position beside them."""

    @abstractmethod
    def load_states(self, ids: Sequence[str]) -> dict[str, tuple[int, bytes]]:
        """The stored (version, state) of each of these migrations that has a row."""

    @abstractmethod
    def save_rows(self, rows: Sequence[ListRow], tracking: Tracking) -> None:
        """Upsert the rows and record the tracking position, in one transaction."""

    @abstractmethod
    def page(self, query: ListQuery) -> ListPage:
        """The count and one page of detail JSON documents, newest first."""

    @abstractmethod
    def close(self) -> None:
        """Release the store's connections."""

    @abstractmethod
    def ids_with_status(
        self, statuses: Sequence[str], updated_before: str | None = None
    ) -> list[str]:
        """Ids of the migrations whose status is one of `statuses` (and last changed before
        `updated_before`, a timestamp in the views' format, if given), oldest first."""


class MigrationListProjection:
    """Folds migration events into list rows, in order, exactly once (tracking records)."""

    def __init__(self, log: EventLog, view: MigrationListView, batch_size: int = 500) -> None:
        self.log = log
        self.view = view
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._caught_up = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    @property
    def position(self) -> int:
        return self.view.max_tracking_id(self.log.name) or 0

    def catch_up(self) -> int:
        """Apply every event not yet applied; returns how many were applied."""
        applied = 0
        with self._lock:
            while True:
                count = self._apply_batch()
                applied += count
                if count == 0:
                    break
        with self._caught_up:
            self._caught_up.notify_all()
        return applied

    def _apply_batch(self) -> int:
        start = self.position + 1
        notifications = self.log.recorder.select_notifications(
            start=start, limit=self.batch_size, topics=MIGRATION_TOPICS
        )
        if not notifications:
            return 0
        events: list[Any] = [self.log.mapper.to_domain_event(n) for n in notifications]
        ids = sorted({e.originator_id.hex for e in events})
        stored = self.view.load_states([f"m-{hex_id}" for hex_id in ids])
        folded: dict[UUID, Migration] = {}
        for domain_event in events:
            migration = folded.get(domain_event.originator_id)
            if migration is None and not isinstance(domain_event, Migration.Created):
                migration = self._thaw(domain_event.originator_id, stored)
            folded[domain_event.originator_id] = cast(Migration, domain_event.mutate(migration))
        rows = [self._row_of(migration) for migration in folded.values()]
        self.view.save_rows(rows, Tracking(self.log.name, notifications[-1].id))
        return len(notifications)

    def _thaw(self, migration_id: UUID, stored: dict[str, tuple[int, bytes]]) -> Migration:
        version, state = stored[f"m-{migration_id.hex}"]
        snapshot: Any = self.log.mapper.to_domain_event(
            StoredEvent(
                originator_id=migration_id,
                originator_version=version,
                topic=SNAPSHOT_TOPIC,
                state=state,
            )
        )
        return cast(Migration, snapshot.mutate(None))

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

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until the rows include the event at `position` (read-your-writes), bounded."""
        deadline = time.monotonic() + timeout
        while self.position < position:
            # IntegrityError: another process applied the same events first; re-read the position.
            with contextlib.suppress(IntegrityError):
                self.catch_up()
            if self.position >= position:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._caught_up:
                self._caught_up.wait(min(remaining, 0.05))
        return True

    def run_polling(self, interval: float) -> None:
        """Keep the rows current from a background thread, polling the log every `interval`."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.catch_up()
                except Exception:  # a transient store error must not kill the loop
                    logger.exception("migration list projection failed; retrying")
                    time.sleep(interval)
                self._wake.wait(interval)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name="migration-list-projection", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Wake the polling loop now (after a write this process made)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def page_json(page: ListPage) -> list[dict[str, Any]]:
    return [json.loads(detail) for detail in page.details]
