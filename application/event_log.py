"""The event log: one eventsourcing Application holding every migration, work and user."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from application.settings import APP_NAME


class EventLog(Application[UUID]):
    """Stores and retrieves aggregates; every view is a projection of what it holds."""

    name = APP_NAME

    def get_or_none(self, aggregate_id: UUID, cls: type[Any], *, to_read: bool = False) -> Any:
        """The aggregate of class `cls` with this id, or None (unknown, or of another class).

        `to_read`: the caller will not change it, so the cached copy itself may be returned."""
        try:
            aggregate: Any = self.repository.get(aggregate_id, deepcopy_from_cache=not to_read)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None
