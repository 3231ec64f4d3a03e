"""Audit: a migration's history, the whole log as JSON Lines, and verifying the log end to end."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from application.event_log import EventLog
from application.migration_views import detail_of, format_timestamp
from application.migrations import Migrations
from application.read_models.migration_list import ListQuery, MigrationListProjection
from application.users import Caller
from domain.chain import NOT_DATA, check_chain
from domain.migration import Migration
from domain.migration_audit import check_sequence

SECRETS = frozenset({"password_hash", "token_hash"})
"""Event fields that never leave the log in clear: exported as "<redacted>"."""

KINDS = {"migration": "m", "work": "w", "user": "u"}


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, UUID):
        return value.hex
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def event_data(event: Any) -> dict[str, Any]:
    """An event's own data: what happened, without its id, version, time and chain."""
    return {
        name: "<redacted>" if name in SECRETS else jsonable(value)
        for name, value in vars(event).items()
        if name not in NOT_DATA
    }


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    type: str
    timestamp: str
    data: dict[str, Any]
    chain: str | None


@dataclass(frozen=True)
class HistoryPage:
    count: int
    entries: list[HistoryEntry]


@dataclass
class VerifyReport:
    """What `audit verify` found; clean when every list is empty."""

    migrations: int = 0
    events: int = 0
    unchained_events: int = 0
    illegal: list[tuple[str, int, str]] = field(default_factory=list)
    broken_chain: list[tuple[str, int, str]] = field(default_factory=list)
    drift: list[tuple[str, str]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.illegal or self.broken_chain or self.drift)


class Audit:
    """Reads the log; never dispatches, never produces: replays have no side effects."""

    def __init__(
        self, log: EventLog, migrations: Migrations, projection: MigrationListProjection
    ) -> None:
        self.log = log
        self.migrations = migrations
        self.projection = projection

    def history(
        self, caller: Caller, migration_id: str, limit: int = 100, offset: int = 0
    ) -> HistoryPage:
        """Every event of a migration in order, a page at a time (same visibility as detail)."""
        migration = self.migrations.visible(caller, migration_id)
        events: list[Any] = list(
            self.log.events.get(
                migration.id, gt=offset or None, lte=min(offset + limit, migration.version)
            )
        )
        return HistoryPage(
            count=migration.version,
            entries=[
                HistoryEntry(
                    version=event.originator_version,
                    type=type(event).TOPIC,
                    timestamp=format_timestamp(event.timestamp),
                    data=event_data(event),
                    chain=getattr(event, "chain", None),
                )
                for event in events
            ],
        )

    @property
    def head(self) -> int:
        return self.log.recorder.max_notification_id() or 0

    def export(self, since: datetime | None = None, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """The whole log in order, one JSON-able record per event, with its global position."""
        start = 1
        while True:
            notifications = self.log.recorder.select_notifications(start=start, limit=batch)
            if not notifications:
                return
            for notification in notifications:
                event: Any = self.log.mapper.to_domain_event(notification)
                if since is not None and event.timestamp < since:
                    continue
                kind = KINDS.get(notification.topic.partition(".")[0], "x")
                yield {
                    "position": notification.id,
                    "id": f"{kind}-{event.originator_id.hex}",
                    "version": event.originator_version,
                    "type": notification.topic,
                    "timestamp": format_timestamp(event.timestamp),
                    "data": event_data(event),
                    "chain": getattr(event, "chain", None),
                }
            start = notifications[-1].id + 1

    def migration_ids(self, batch: int = 1000) -> Iterator[UUID]:
        start = 1
        while True:
            created = self.log.recorder.select_notifications(
                start=start, limit=batch, topics=("migration.created",)
            )
            if not created:
                return
            yield from (cast(UUID, notification.originator_id) for notification in created)
            start = created[-1].id + 1

    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Re-fold every migration: legal steps, an unbroken hash chain, read models that agree."""
        report = VerifyReport()
        self.projection.catch_up()
        rows = self._list_rows()
        for migration_id in self.migration_ids():
            events: list[Any] = list(self.log.events.get(migration_id))
            public_id = f"m-{migration_id.hex}"
            report.migrations += 1
            report.events += len(events)
            for step in check_sequence(events):
                report.illegal.append((public_id, step.version, f"{step.topic}: {step.reason}"))
            for finding in check_chain(events):
                if finding.kind == "unchained":
                    report.unchained_events += 1
                else:
                    report.broken_chain.append((public_id, finding.version, finding.topic))
            migration: Migration | None = None
            for event in events:
                migration = event.mutate(migration)
            if migration is not None and rows.get(public_id) != detail_of(migration):
                report.drift.append((public_id, "migration_list row differs from the log"))
            rows.pop(public_id, None)
            if progress is not None:
                progress(1)
        report.drift.extend((extra, "migration_list row has no events") for extra in rows)
        return report

    def _list_rows(self) -> dict[str, Any]:
        rows: dict[str, Any] = {}
        offset = 0
        while True:
            page = self.projection.view.page(ListQuery(limit=1000, offset=offset))
            for detail in page.details:
                row = json.loads(detail)
                rows[row["id"]] = row
            if len(page.details) < 1000:
                return rows
            offset += 1000
