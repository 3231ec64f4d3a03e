"""The sweeper: attempts whose worker died are retried or failed; lost dispatches are redone."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from application.event_log import EventLog
from application.execution import Clock, MigrationRunner, utc_now
from application.migration_views import format_timestamp
from application.ports import Lease, LeaseStore
from application.read_models.migration_list import MigrationListProjection
from application.retry_policy import RetryPolicy
from domain.errors import DomainError
from domain.migration import Migration, Status

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sweep:
    """What one pass did."""

    workers_lost: int
    redispatched: int


class Sweeper:
    """Several sweepers may run at once: each change is an optimistic append, so one wins."""

    def __init__(
        self,
        log: EventLog,
        leases: LeaseStore,
        projection: MigrationListProjection,
        runner: MigrationRunner,
        policy: RetryPolicy,
        *,
        stale_after: float = 60.0,
        clock: Clock = utc_now,
    ) -> None:
        self.log = log
        self.leases = leases
        self.projection = projection
        self.runner = runner
        self.policy = policy
        self.stale_after = stale_after
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._redispatched: dict[str, datetime] = {}
        self.batch = 500
        """Stale migrations looked at per sweep: a backlog is worked off, never loaded at once."""

    def sweep(self) -> Sweep:
        now = self.clock()
        lost = sum(self._worker_lost(lease, now) for lease in self.leases.expired(now))
        return Sweep(workers_lost=lost, redispatched=self._redispatch_stale(now))

    def _worker_lost(self, lease: Lease, now: datetime) -> bool:
        """Record that the lease's worker is gone: a retry if attempts are left, else failure."""
        migration = self._load(lease.migration_id)
        if (
            migration is None
            or migration.status != Status.STARTED
            or migration.attempts != lease.attempt
        ):
            self.leases.release(lease.migration_id, lease.attempt)  # the attempt ended anyway
            return False
        reason = f"worker lost: {lease.host}/{lease.pid}"
        try:
            if self.policy.allows_another(migration.attempts):
                at = self.policy.retry_at(now, migration.attempts)
                migration.schedule_retry(error=reason, output=None, retry_at=at)
            else:
                migration.fail(error=reason)
            self.log.save(migration)
        except (IntegrityError, DomainError):
            return False  # another sweeper, or the worker itself, got there first
        logger.warning("%s: %s (attempt %d)", migration.public_id, reason, lease.attempt)
        self.leases.release(lease.migration_id, lease.attempt)
        if migration.status == Status.RETRY:
            self.runner.dispatch(migration, at=migration.retry_at)
        return True

    def _redispatch_stale(self, now: datetime) -> int:
        """Dispatch again what nobody is running: a dispatch lost in a crash is not a lost job."""
        before = format_timestamp(now - timedelta(seconds=self.stale_after))
        count = 0
        view = self.projection.view
        stale = view.ids_with_status(["PENDING", "RETRY", "STARTED"], before, self.batch)
        for migration_id in stale:
            # A row is as fresh as the projection: a just-ended migration is skipped on load.
            migration = self._load(migration_id)
            if migration is None or migration.is_terminal:
                continue
            if migration.status == Status.STARTED:
                if self.leases.get(migration_id) is not None:
                    continue  # alive, or the expired-lease pass handles it
                # Started but never leased: its worker died between the two writes.
                self._worker_lost(_orphan_lease(migration, now), now)
                continue
            recent = now - timedelta(seconds=self.stale_after)
            if migration.status == Status.RETRY and (migration.retry_at or now) > recent:
                continue  # its delayed delivery is still due
            last = self._redispatched.get(migration_id)
            if last is not None and last > recent:
                continue  # one extra delivery per period at most: a long queue is not flooded
            self._redispatched[migration_id] = now
            self.runner.dispatch(migration)
            count += 1
        return count

    def _load(self, migration_id: str) -> Migration | None:
        migration: Migration | None = self.log.get_or_none(UUID(hex=migration_id[2:]), Migration)
        return migration

    def run_every(self, interval: float) -> None:
        """Sweep from a background thread every `interval` seconds until stopped."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.sweep()
                except Exception:  # a store outage: sweep again next time
                    logger.exception("sweep failed")

        self._thread = threading.Thread(target=loop, name="sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def _orphan_lease(migration: Migration, now: datetime) -> Lease:
    return Lease(
        migration_id=migration.public_id,
        attempt=migration.attempts,
        worker_id=migration.worker_id or "",
        host=migration.host or "?",
        pid=migration.pid or 0,
        expires_at=now,
    )
