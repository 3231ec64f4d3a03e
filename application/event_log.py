"""The event log: one eventsourcing Application holding every migration, work and user."""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import Recording

from application.settings import APP_NAME


class EventLog(Application[UUID]):
    """Stores and retrieves aggregates; every view is a projection of what it holds."""

    name = APP_NAME

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env=env)
        # SQLite takes one writer at a time; waiting threads would sleep in its busy handler
        # (1, 2, 5 ... 100 ms). Queueing them on a lock here hands the file over at once.
        sqlite = (env or {}).get("PERSISTENCE_MODULE") == "eventsourcing.sqlite"
        self._write_lock: threading.Lock | None = threading.Lock() if sqlite else None

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        if self._write_lock is None:
            return super().save(*objs, **kwargs)
        with self._write_lock:
            return super().save(*objs, **kwargs)

    def get_or_none(self, aggregate_id: UUID, cls: type[Any], *, to_read: bool = False) -> Any:
        """The aggregate of class `cls` with this id, or None (unknown, or of another class).

        `to_read`: the caller will not change it, so the cached copy itself may be returned."""
        try:
            aggregate: Any = self.repository.get(aggregate_id, deepcopy_from_cache=not to_read)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None
