"""Per-work deployment summary: migrations by status, the last success and its outputs, bytes."""

from __future__ import annotations

import json
import logging
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, TypedDict
from uuid import UUID

from eventsourcing.persistence import Notification, Tracking

from application.migration_views import format_timestamp
from application.read_models.generations import GenerationalView
from application.read_models.migration_list import MIGRATION_TOPICS
from application.read_models.projection import Drift, TrackedProjection
from domain.migration import Migration, Status

logger = logging.getLogger(__name__)

STATUS_AFTER = {
    "migration.started": Status.STARTED,
    "migration.retry_scheduled": Status.RETRY,
    "migration.failed": Status.FAILURE,
    "migration.completed": Status.SUCCESS,
    "migration.revoked": Status.REVOKED,
    "migration.retry_requested": Status.PENDING,
}


class WorkSummary(TypedDict):
    work_id: str
    owner_id: str
    migrations: int
    by_status: dict[str, int]
    last_success: dict[str, Any] | None
    output_bytes: int


class WorkSummaryView(GenerationalView):
    """Documents by key: "w:<work id>" (the summary) and "m:<migration id>" (what it needs)."""

    @abstractmethod
    def load(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    @abstractmethod
    def save(self, docs: dict[str, dict[str, Any]], tracking: Tracking) -> None: ...

    @abstractmethod
    def sample_works(self, count: int | None) -> list[str]: ...

    @abstractmethod
    def migrations_of(self, work_id: str) -> list[str]: ...


def empty_summary(work_id: str, owner_id: str) -> WorkSummary:
    return {
        "work_id": work_id,
        "owner_id": owner_id,
        "migrations": 0,
        "by_status": {status.value: 0 for status in Status},
        "last_success": None,
        "output_bytes": 0,
    }


def apply(event: Any, work: dict[str, Any], migration: dict[str, Any]) -> None:
    """Fold one migration event into its work's summary and its own small record."""
    topic = type(event).TOPIC
    if topic == "migration.created":
        migration.update(status=Status.PENDING.value, outputs={}, bytes=0)
        work["migrations"] += 1
        work["by_status"][Status.PENDING.value] += 1
        return
    if topic == "migration.output_produced":
        value = event.value if isinstance(event.value, dict) else {}
        size = value.get("bytes") if isinstance(value.get("bytes"), int) else 0
        migration["outputs"][event.name] = value
        migration["bytes"] += size
        work["output_bytes"] += size
        return
    after = STATUS_AFTER.get(topic)
    if after is None:
        return
    work["by_status"][migration["status"]] -= 1
    work["by_status"][after.value] += 1
    migration["status"] = after.value
    if after == Status.SUCCESS:
        work["last_success"] = {
            "id": f"m-{event.originator_id.hex}",
            "completed": format_timestamp(event.timestamp),
            "outputs": migration["outputs"],
        }


class WorkSummaryProjection(TrackedProjection[WorkSummaryView]):
    name = "work_summary"
    topics = MIGRATION_TOPICS

    def with_view(self, view: WorkSummaryView) -> WorkSummaryProjection:
        return WorkSummaryProjection(self.log, view, self.batch_size)

    def fold(self, notifications: Sequence[Notification], events: Sequence[Any]) -> None:
        migration_keys = sorted({f"m:{e.originator_id.hex}" for e in events})
        docs = self.view.load(migration_keys)
        for event in events:
            if isinstance(event, Migration.Created):
                created: Any = event
                docs[f"m:{created.originator_id.hex}"] = {
                    "work_id": created.work["id"],
                    "owner_id": created.work["owner_id"],
                }
        work_keys = sorted({f"w:{doc['work_id']}" for doc in docs.values()} - set(docs))
        docs.update(self.view.load(work_keys))
        for event in events:
            key = f"m:{event.originator_id.hex}"
            if key not in docs:
                docs[key] = self._heal(event)
            migration = docs[key]
            work_key = f"w:{migration['work_id']}"
            if work_key not in docs:
                docs[work_key] = dict(empty_summary(migration["work_id"], migration["owner_id"]))
            apply(event, docs[work_key], migration)
        self.view.save(docs, Tracking(self.view.tracking_name, notifications[-1].id))

    def _heal(self, event: Any) -> dict[str, Any]:
        """A migration record missing from the view (never expected: the log is folded in order):
        re-fold it from the log up to just before `event`; `read-models verify` reports the work."""
        logger.warning(
            "work summary lacks m-%s; re-folding it from the log", event.originator_id.hex
        )
        before: list[Any] = list(
            self.log.events.get(event.originator_id, lte=event.originator_version - 1)
        )
        created: Any = before[0]
        record: dict[str, Any] = {
            "work_id": created.work["id"],
            "owner_id": created.work["owner_id"],
        }
        scratch = dict(empty_summary(record["work_id"], record["owner_id"]))
        for earlier in before:
            apply(earlier, scratch, record)
        return record

    def summary(self, work_id: str) -> WorkSummary | None:
        self.view.refresh()
        key = f"w:{work_id}"
        doc = self.view.reading(lambda: self.view.load([key])).get(key)
        return None if doc is None else WorkSummary(**doc)  # type: ignore[typeddict-item]

    def drift(self, sample: int | None) -> list[Drift]:
        """Recount sampled works from their migrations' events in the log."""
        self.catch_up()
        found: list[Drift] = []
        for work_id in self.view.sample_works(sample):
            stored = self.summary(work_id)
            events: list[Any] = []
            for key in self.view.migrations_of(work_id):
                events.extend(self.log.events.get(UUID(hex=key[2:])))
            events.sort(key=lambda e: e.timestamp)
            expected: dict[str, Any] = dict(
                empty_summary(work_id, stored["owner_id"] if stored else "")
            )
            records: dict[str, dict[str, Any]] = {}
            for event in events:
                apply(event, expected, records.setdefault(event.originator_id.hex, {}))
            if stored is None or json.dumps(stored, sort_keys=True) != json.dumps(
                expected, sort_keys=True
            ):
                found.append(Drift(work_id, "summary differs from a recount of the log"))
        return found
