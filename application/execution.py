"""Running a migration: start it once, produce each missing output, then complete or fail."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from application.event_log import EventLog
from application.ports import OutputJob, OutputProducer
from application.works import Works
from domain.errors import DomainError
from domain.ids import MIGRATION, parse_id
from domain.migration import Migration, Status

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerIdentity:
    """The host, process and worker that run attempts; shown in the status view."""

    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    worker_id: str = field(default_factory=lambda: uuid4().hex)


class MigrationRunner:
    """DESIGN §4: the algorithm every executor runs for one delivery of a migration."""

    def __init__(
        self,
        log: EventLog,
        works: Works,
        producers: Mapping[str, OutputProducer],
        identity: WorkerIdentity | None = None,
    ) -> None:
        self.log = log
        self.works = works
        self.producers = producers
        self.identity = identity or WorkerIdentity()

    def run(self, migration_id: str, *, takeover: bool = False) -> str:
        """Run one delivery; returns the status it leaves. Repeated deliveries are harmless."""
        uuid = parse_id(MIGRATION, migration_id)
        migration = self._load(uuid)
        if migration is None or migration.is_terminal:
            return "missing" if migration is None else migration.status
        if migration.status == Status.STARTED and not takeover:
            return migration.status  # another worker holds this attempt
        try:
            migration.start(
                host=self.identity.host,
                pid=self.identity.pid,
                worker_id=self.identity.worker_id,
                takeover=takeover,
            )
            self.log.save(migration)
        except (IntegrityError, DomainError):
            return "lost"  # someone else started or ended it first
        return self._produce_outputs(uuid, migration)

    def _produce_outputs(self, uuid: UUID, migration: Migration) -> str:
        job: OutputJob | None = None
        for name in migration.missing_outputs:
            fresh = self._load(uuid)
            if fresh is None or fresh.status != Status.STARTED:
                return "missing" if fresh is None else fresh.status  # revoked meanwhile
            migration = fresh
            try:
                if job is None:
                    job = OutputJob(
                        migration_id=migration.public_id,
                        work=self.works.source_of(migration.work["id"]),
                        features=migration.features,
                        encrypted=migration.encrypted,
                        unencrypted=migration.unencrypted,
                    )
                produced = self.producers[name].produce(job)
            except Exception as error:  # any producer failure ends this attempt, recorded
                message = _describe(error)
                logger.warning(
                    "migration %s: output %s failed: %s", migration.public_id, name, message
                )
                return self._end(uuid, partial(Migration.fail, error=message, output=name))
            try:
                migration.record_output(name, produced.value, web_script=produced.web_script)
                self.log.save(migration)
            except (IntegrityError, DomainError):
                fresh = self._load(uuid)
                return "lost" if fresh is None else fresh.status
        return self._end(uuid, Migration.complete)

    def _end(self, uuid: UUID, command: Callable[[Migration], None]) -> str:
        migration = self._load(uuid)
        if migration is None or migration.status != Status.STARTED:
            return "missing" if migration is None else migration.status
        try:
            command(migration)
            self.log.save(migration)
        except (IntegrityError, DomainError):
            fresh = self._load(uuid)
            return "lost" if fresh is None else fresh.status
        return migration.status

    def _load(self, uuid: UUID) -> Migration | None:
        migration: Migration | None = self.log.get_or_none(uuid, Migration)
        return migration


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 1000 else text[:997] + "..."
