"""The sweeper: a dead worker's attempt is retried (or failed) once, however many sweepers run."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from uuid import UUID

from application.migrations import CreateMigration
from application.ports import Lease
from application.retry_policy import RetryPolicy
from application.sweeper import Sweeper
from domain.migration import Migration
from interface.runtime import Runtime
from tests.conftest import import_sample, make_person


class Recorder:
    """A dispatcher that remembers what it was handed."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, datetime | None]] = []
        self.lock = threading.Lock()

    def dispatch(self, migration_id: str, task_id: str, at: datetime | None = None) -> None:
        with self.lock:
            self.sent.append((migration_id, task_id, at))


def _started_by_a_dead_worker(runtime: Runtime, attempts: int = 1) -> Migration:
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)
    migration_id = runtime.engine.migrations.create(
        author.caller, CreateMigration(work_id, {"web": True})
    ).detail["id"]
    migration: Migration = runtime.engine.log.repository.get(UUID(hex=migration_id[2:]))
    for attempt in range(1, attempts + 1):
        migration.start(host="host-a", pid=4242, worker_id="w-a", takeover=attempt > 1)
    runtime.engine.log.save(migration)
    runtime.engine.leases.hold(
        Lease(
            migration_id=migration_id,
            attempt=migration.attempts,
            worker_id="w-a",
            host="host-a",
            pid=4242,
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
        )
    )
    return migration


def _sweeper(runtime: Runtime, policy: RetryPolicy | None = None) -> Sweeper:
    return Sweeper(
        runtime.engine.log,
        runtime.engine.leases,
        runtime.engine.list_projection,
        runtime.engine.runner,
        policy or RetryPolicy(initial_interval=1, jitter=0),
    )


def test_an_expired_lease_becomes_a_retry_naming_the_lost_worker(runtime: Runtime) -> None:
    migration = _started_by_a_dead_worker(runtime)
    dispatched = Recorder()
    runtime.engine.use_dispatcher(dispatched)

    sweep = _sweeper(runtime).sweep()

    assert sweep.workers_lost == 1
    swept: Migration = runtime.engine.log.repository.get(migration.id)
    assert swept.status == "RETRY"
    assert swept.error == "worker lost: host-a/4242"
    last = list(runtime.engine.log.events.get(migration.id))[-1]
    assert isinstance(last, Migration.RetryScheduled) and last.attempt == 1
    assert dispatched.sent == [(migration.public_id, migration.task_id, swept.retry_at)]
    assert runtime.engine.leases.get(migration.public_id) is None
    assert _sweeper(runtime).sweep().workers_lost == 0  # nothing left to sweep


def test_a_lost_worker_on_the_last_attempt_fails_the_migration(runtime: Runtime) -> None:
    migration = _started_by_a_dead_worker(runtime, attempts=3)

    _sweeper(runtime, RetryPolicy(max_attempts=3)).sweep()

    swept: Migration = runtime.engine.log.repository.get(migration.id)
    assert swept.status == "FAILURE"
    assert swept.error == "worker lost: host-a/4242"


def test_a_live_lease_is_left_alone(runtime: Runtime) -> None:
    migration = _started_by_a_dead_worker(runtime)
    runtime.engine.leases.hold(
        Lease(migration.public_id, 1, "w-a", "host-a", 4242, datetime.now(UTC) + timedelta(60))
    )

    assert _sweeper(runtime).sweep().workers_lost == 0
    assert runtime.engine.log.repository.get(migration.id).status == "STARTED"


def test_sweepers_racing_each_other_record_the_loss_once(runtime: Runtime) -> None:
    migration = _started_by_a_dead_worker(runtime)
    dispatched = Recorder()
    runtime.engine.use_dispatcher(dispatched)
    sweepers = [_sweeper(runtime) for _ in range(6)]
    barrier = threading.Barrier(len(sweepers))
    lost: list[int] = []

    def sweep(sweeper: Sweeper) -> None:
        barrier.wait()
        lost.append(sweeper.sweep().workers_lost)

    threads = [threading.Thread(target=sweep, args=(s,)) for s in sweepers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(lost) == 1
    events = list(runtime.engine.log.events.get(migration.id))
    assert [type(e).__name__ for e in events].count("RetryScheduled") == 1
    assert len(dispatched.sent) == 1


def test_a_stale_pending_migration_is_dispatched_again_once_per_period(runtime: Runtime) -> None:
    dispatched = Recorder()
    runtime.engine.use_dispatcher(dispatched)
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)
    created = runtime.engine.migrations.create(
        author.caller, CreateMigration(work_id, {"web": True})
    )
    dispatched.sent.clear()  # the create's own dispatch "was lost"
    later = datetime.now(UTC) + timedelta(seconds=600)
    sweeper = _sweeper(runtime)
    sweeper.clock = lambda: later

    first, second = sweeper.sweep(), sweeper.sweep()

    assert (first.redispatched, second.redispatched) == (1, 0)
    assert [sent[0] for sent in dispatched.sent] == [created.detail["id"]]


def test_a_started_migration_that_never_got_a_lease_is_swept(runtime: Runtime) -> None:
    migration = _started_by_a_dead_worker(runtime)
    runtime.engine.leases.release(migration.public_id, 1)
    runtime.engine.list_projection.catch_up()
    sweeper = _sweeper(runtime)
    sweeper.clock = lambda: datetime.now(UTC) + timedelta(seconds=600)

    sweeper.sweep()

    assert runtime.engine.log.repository.get(migration.id).status == "RETRY"


class BrokerDown:
    def dispatch(self, migration_id: str, task_id: str, at: datetime | None = None) -> None:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_a_create_with_the_broker_down_is_recorded_and_sent_again_later(runtime: Runtime) -> None:
    runtime.engine.use_dispatcher(BrokerDown())
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)

    created = runtime.engine.migrations.create(
        author.caller, CreateMigration(work_id, {"web": True})
    )

    assert created.created and created.detail["complete"] is False
    dispatched = Recorder()
    runtime.engine.use_dispatcher(dispatched)
    sweeper = _sweeper(runtime)
    sweeper.clock = lambda: datetime.now(UTC) + timedelta(seconds=600)
    assert sweeper.sweep().redispatched == 1
    assert [sent[0] for sent in dispatched.sent] == [created.detail["id"]]
