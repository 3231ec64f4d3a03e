"""Running a migration (DESIGN §4): start it once, produce each missing output, then end it."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from application.event_log import EventLog
from application.ports import (
    Dispatcher,
    Lease,
    LeaseStore,
    OutputJob,
    OutputProducer,
    RetryableOutputError,
)
from application.retry_policy import RetryPolicy
from application.works import Works
from domain.errors import DomainError
from domain.ids import MIGRATION, parse_id
from domain.migration import Migration, Status

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WorkerIdentity:
    """The host, process and worker that run attempts; shown in the status view."""

    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    worker_id: str = field(default_factory=lambda: uuid4().hex)


def is_retryable(error: BaseException) -> bool:
    """Failures that may pass: timeouts, connection errors, a remote service's 5xx."""
    return isinstance(error, RetryableOutputError | TimeoutError | ConnectionError)


class MigrationRunner:
    """The algorithm every executor runs for one delivery of a migration; deliveries may repeat."""

    def __init__(
        self,
        log: EventLog,
        works: Works,
        producers: Mapping[str, OutputProducer],
        identity: WorkerIdentity | None = None,
        *,
        leases: LeaseStore | None = None,
        policy: RetryPolicy | None = None,
        lease_ttl: float = 30.0,
        clock: Clock = utc_now,
    ) -> None:
        self.log = log
        self.works = works
        self.producers = producers
        self.identity = identity or WorkerIdentity()
        self.leases = leases
        self.policy = policy or RetryPolicy()
        self.lease_ttl = lease_ttl
        self.clock = clock
        self.dispatcher: Dispatcher | None = None

    def run(self, migration_id: str, *, takeover: bool = False) -> str:
        """Run one delivery; returns the status it leaves (or "lost"/"missing")."""
        uuid = parse_id(MIGRATION, migration_id)
        migration = self._load(uuid)
        if migration is None or migration.is_terminal:
            return "missing" if migration is None else migration.status
        if migration.status == Status.STARTED and not takeover:
            return migration.status  # another worker holds this attempt
        if self._too_early(migration):
            return migration.status
        if not self._start(migration, takeover):
            return "lost"  # someone else started or ended it first
        with self._leased(migration):
            return self._produce_outputs(uuid, migration)

    def _too_early(self, migration: Migration) -> bool:
        # A retry delivered before its time (a redelivery, a broker without delays) waits for it.
        if migration.status != Status.RETRY or migration.retry_at is None:
            return False
        if migration.retry_at <= self.clock() + timedelta(milliseconds=50):
            return False
        self.dispatch(migration, at=migration.retry_at)
        return True

    def _start(self, migration: Migration, takeover: bool) -> bool:
        try:
            migration.start(
                host=self.identity.host,
                pid=self.identity.pid,
                worker_id=self.identity.worker_id,
                takeover=takeover,
            )
            self.log.save(migration)
        except (IntegrityError, DomainError):
            return False
        return True

    def _produce_outputs(self, uuid: UUID, migration: Migration) -> str:
        job: OutputJob | None = None
        for name in migration.missing_outputs:
            fresh = self._load(uuid)
            if (
                fresh is None
                or fresh.status != Status.STARTED
                or fresh.attempts != migration.attempts
            ):
                return "missing" if fresh is None else fresh.status  # revoked or swept meanwhile
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
                return self._after_failure(uuid, migration.attempts, name, error)
            try:
                migration.record_output(name, produced.value, web_script=produced.web_script)
                self.log.save(migration)
            except (IntegrityError, DomainError):
                fresh = self._load(uuid)
                return "lost" if fresh is None else fresh.status
        return self._end(uuid, migration.attempts, Migration.complete)

    def _after_failure(self, uuid: UUID, attempt: int, output: str, error: Exception) -> str:
        message = describe(error)
        retry = is_retryable(error) and self.policy.allows_another(attempt)
        logger.warning(
            "migration m-%s attempt %d: output %s failed (%s): %s",
            uuid.hex,
            attempt,
            output,
            "will retry" if retry else "final",
            message,
        )

        def record(migration: Migration) -> None:
            if retry:
                at = self.policy.retry_at(self.clock(), migration.attempts)
                migration.schedule_retry(error=message, output=output, retry_at=at)
            else:
                migration.fail(error=message, output=output)

        return self._end(uuid, attempt, record)

    def _end(self, uuid: UUID, attempt: int, command: Callable[[Migration], None]) -> str:
        migration = self._load(uuid)
        if migration is None or migration.status != Status.STARTED or migration.attempts != attempt:
            return "missing" if migration is None else migration.status
        try:
            command(migration)
            self.log.save(migration)
        except (IntegrityError, DomainError):
            fresh = self._load(uuid)
            return "lost" if fresh is None else fresh.status
        if migration.status == Status.RETRY:
            self.dispatch(migration, at=migration.retry_at)
        return migration.status

    def dispatch(self, migration: Migration, at: datetime | None = None) -> None:
        """Hand the migration to the executor again (now, or at `at`)."""
        if self.dispatcher is None:
            return
        try:
            self.dispatcher.dispatch(migration.public_id, migration.task_id, at)
        except Exception:  # the broker is down: the sweeper sends it again once it is stale
            logger.exception("could not dispatch %s; it will be sent again", migration.public_id)

    @contextmanager
    def _leased(self, migration: Migration) -> Iterator[None]:
        """Hold a lease on this attempt, renewed by a heartbeat thread while the attempt runs."""
        if self.leases is None:
            yield
            return
        leases = self.leases
        lease = Lease(
            migration_id=migration.public_id,
            attempt=migration.attempts,
            worker_id=self.identity.worker_id,
            host=self.identity.host,
            pid=self.identity.pid,
            expires_at=self.clock() + timedelta(seconds=self.lease_ttl),
        )
        leases.hold(lease)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.lease_ttl / 3):
                try:
                    leases.hold(
                        replace(lease, expires_at=self.clock() + timedelta(seconds=self.lease_ttl))
                    )
                except Exception:  # the store may be down for a moment; the next beat retries
                    logger.exception("could not renew the lease of %s", lease.migration_id)

        heartbeat = threading.Thread(target=beat, name=f"lease-{lease.migration_id}", daemon=True)
        heartbeat.start()
        try:
            yield
        finally:
            stop.set()
            heartbeat.join()
            try:
                leases.release(lease.migration_id, lease.attempt)
            except Exception:  # an unreleased lease only makes the sweeper look at it later
                logger.exception("could not release the lease of %s", lease.migration_id)

    def _load(self, uuid: UUID) -> Migration | None:
        migration: Migration | None = self.log.get_or_none(uuid, Migration)
        return migration


def describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 1000 else text[:997] + "..."
