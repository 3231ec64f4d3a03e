"""Operating the read models: where each stands against the log, rebuild, drift check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from application.errors import InvalidInputError
from application.event_log import EventLog
from application.read_models.projection import Drift, Rebuilt, TrackedProjection


@dataclass(frozen=True)
class ReadModelState:
    name: str
    generation: int
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


class ReadModels:
    """Every projection of the log, by name; none of these operations has a side effect."""

    def __init__(self, log: EventLog, projections: Sequence[TrackedProjection[Any]]) -> None:
        self.log = log
        self.projections = {projection.name: projection for projection in projections}

    def named(self, name: str | None) -> list[TrackedProjection[Any]]:
        if name is None:
            return list(self.projections.values())
        if name not in self.projections:
            raise InvalidInputError(
                f"no read model '{name}' (known: {', '.join(self.projections)})", field="name"
            )
        return [self.projections[name]]

    def status(self) -> list[ReadModelState]:
        head = self.log.recorder.max_notification_id() or 0
        states = []
        for projection in self.projections.values():
            generation = projection.view.refresh(force=True)
            states.append(ReadModelState(projection.name, generation, projection.position, head))
        return states

    def rebuild(
        self, name: str | None = None, progress: Callable[[str, int], None] | None = None
    ) -> list[Rebuilt]:
        """Rebuild into new tables from position 0, then switch readers over atomically."""
        results = []
        for projection in self.named(name):

            def report(position: int, name: str = projection.name) -> None:
                if progress is not None:
                    progress(name, position)

            results.append(projection.rebuild(report))
        return results

    def verify(self, name: str | None = None, sample: int | None = None) -> dict[str, list[Drift]]:
        return {projection.name: projection.drift(sample) for projection in self.named(name)}

    def catch_up(self) -> int:
        return sum(projection.catch_up() for projection in self.projections.values())

    def run_polling(self, interval: float) -> None:
        for projection in self.projections.values():
            projection.run_polling(interval)

    def poke(self) -> None:
        for projection in self.projections.values():
            projection.poke()

    def stop(self) -> None:
        for projection in self.projections.values():
            projection.stop()
