"""Real Celery workers (separate processes) on Redis or RabbitMQ and a fresh PostgreSQL schema:
one start per migration, outputs once, killed workers swept, revocation, retries with backoff."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import pytest

from application.migrations import CreateMigration
from application.settings import Settings
from domain.migration import Migration
from interface.runtime import Runtime, build_runtime
from interface.worker.celery_app import CeleryDispatcher
from tests.conftest import (
    IN_CI,
    POSTGRES_URL,
    Person,
    fresh_postgres_schema,
    import_sample,
    make_person,
)
from tests.support.producers import CALLS_LOG, PRODUCED_LOG, read_lines

pytestmark = pytest.mark.postgres

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_COMMAND = str(Path(sys.executable).parent / "migration-engine")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
WAIT_SECONDS = 60.0
TERMINAL = {"SUCCESS", "FAILURE", "REVOKED"}
BOTH = {"web": True, "size_report": True}

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT_SECONDS) -> T:
    """Poll `probe` until it returns something true; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)


def require_broker(url: str) -> None:
    """Skip (fail in CI) when the broker does not answer."""
    from kombu import Connection
    from kombu.exceptions import OperationalError

    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
    except (OSError, OperationalError) as problem:
        reason = f"broker not reachable at {url}: {problem}"
        if IN_CI:
            pytest.fail(f"the broker is required in CI: {reason}")
        print(reason)
        pytest.skip(reason)


def delete_queue(url: str, queue: str) -> None:
    from kombu import Connection

    with Connection(url, connect_timeout=3) as connection:
        connection.default_channel.queue_delete(queue)


def parent_of(pid: int) -> int:
    # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ")".
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


class Worker:
    """`migration-engine worker` in its own session, so the whole group can be killed."""

    def __init__(self, env: dict[str, str], log: Path, concurrency: int, pool: str) -> None:
        self.log = log
        command = [
            WORKER_COMMAND,
            "worker",
            "--concurrency",
            str(concurrency),
            "--queues",
            env["MIGRATION_ENGINE_QUEUE"],
            "--loglevel",
            "info",
            "--pool",
            pool,
        ]
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                env=env,
                cwd=REPO_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.process.poll() is None, f"worker exited:\n{self.log.read_text()}"
            return " ready." in self.log.read_text()

        wait_for(f"worker {self.process.pid} to be ready", ready, timeout=30)

    def kill(self) -> None:
        """SIGKILL to the main process and its pool children at once: nothing cleans up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown: running tasks end first
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):  # pool children that outlived their parent
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=10)


@dataclass
class Cluster:
    """The test's own engine (it creates and revokes) and the workers that run migrations."""

    runtime: Runtime
    env: dict[str, str]
    tmp_path: Path
    author: Person
    work_id: str
    workers: list[Worker] = field(default_factory=list)

    @property
    def produced_dir(self) -> Path:
        return Path(self.env["TEST_PRODUCER_DIR"])

    @property
    def queue(self) -> str:
        return self.env["MIGRATION_ENGINE_QUEUE"]

    def start_worker(self, concurrency: int = 1, pool: str = "prefork") -> Worker:
        log = self.tmp_path / f"worker-{len(self.workers) + 1}.log"
        worker = Worker(self.env, log, concurrency, pool)
        self.workers.append(worker)
        worker.wait_ready()
        return worker

    def create(self, features: dict[str, bool]) -> tuple[str, str]:
        """A new migration of the sample work: its id and task id."""
        created = self.runtime.engine.migrations.create(
            self.author.caller, CreateMigration(work_id=self.work_id, features=features)
        )
        task_id = created.detail["task_id"]
        assert task_id is not None
        return created.detail["id"], task_id

    def status(self, migration_id: str) -> dict[str, Any]:
        return dict(self.runtime.engine.migrations.status(self.author.caller, migration_id))

    def wait_for_end(self, migration_id: str) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            status = self.status(migration_id)
            return status if status["status"] in TERMINAL else None

        return wait_for(f"{migration_id} to end", ended)

    def events(self, migration_id: str) -> list[Any]:
        return list(self.runtime.engine.log.events.get(UUID(hex=migration_id[2:])))

    def history(self, migration_id: str) -> list[str]:
        return [type(event).__name__ for event in self.events(migration_id)]

    def lines(self, migration_id: str, log: str = PRODUCED_LOG) -> list[tuple[str, int]]:
        """(output, pid) of each line the test producers logged for this migration."""
        return [(o, pid) for m, o, pid in read_lines(self.produced_dir, log) if m == migration_id]

    def queue_length(self) -> int:
        import redis

        client = redis.Redis.from_url(self.env["MIGRATION_ENGINE_BROKER_URL"])
        try:
            return int(client.llen(self.queue))
        finally:
            client.close()

    def print_logs(self) -> None:
        for worker in self.workers:
            print(f"----- {worker.log.name} (pid {worker.process.pid}) -----")
            print(worker.log.read_text(errors="replace")[-20_000:])


def make_cluster(
    tmp_path: Path, broker_url: str, producers: str, extra: dict[str, str]
) -> Iterator[Cluster]:
    require_broker(broker_url)
    with fresh_postgres_schema() as schema:
        produced_dir = tmp_path / "produced"
        produced_dir.mkdir()
        values = {
            "database_url": f"{POSTGRES_URL}?schema={schema}",
            "data_dir": str(tmp_path / "data"),
            "broker_url": broker_url,
            "queue": f"test-{uuid.uuid4().hex[:12]}",
            "producers": producers,
            "lease_ttl": "2",
            "sweep_interval": "0.5",
            "stale_after": "5",
            "retry_initial_interval": "0.5",
            "retry_backoff_coefficient": "2",
            "retry_jitter": "0",
            "projection_poll_interval": "0.05",
            # Every process keeps pool_size connections per store open: 2 keeps 8 children
            # (and whatever else uses the server) well under PostgreSQL's 100.
            "postgres_pool_size": "2",
        }
        env = {
            **os.environ,
            **{f"MIGRATION_ENGINE_{name.upper()}": value for name, value in values.items()},
            "PYTHONPATH": os.pathsep.join(
                [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            "TEST_PRODUCER_DIR": str(produced_dir),
            **extra,
        }
        runtime = build_runtime(Settings(**values))
        cluster: Cluster | None = None
        try:
            runtime.start()
            author = make_person(runtime, "author")
            cluster = Cluster(runtime, env, tmp_path, author, import_sample(runtime, author))
            yield cluster
        finally:
            if cluster is not None:
                for worker in cluster.workers:
                    worker.stop()
                cluster.print_logs()  # shown by pytest only when the test failed
            dispatcher = runtime.engine.migrations.dispatcher
            if isinstance(dispatcher, CeleryDispatcher):
                dispatcher.celery.close()
            runtime.close()
            delete_queue(broker_url, values["queue"])


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Builds the test's cluster: `cluster_factory(producers=..., broker_url=..., **env)`."""
    made: list[Iterator[Cluster]] = []

    def build(
        producers: str = "interface.outputs:build_producers",
        broker_url: str = REDIS_URL,
        **extra: str,
    ) -> Cluster:
        generator = make_cluster(tmp_path, broker_url, producers, extra)
        made.append(generator)
        return next(generator)

    yield build
    for generator in made:
        for _ in generator:  # runs the teardown
            pass


def assert_ran_in_worker_child(cluster: Cluster, worker: Worker, status: dict[str, Any]) -> None:
    assert status["pid"] != os.getpid()
    assert status["pid"] != worker.process.pid  # prefork: a pool child ran it
    assert parent_of(status["pid"]) == worker.process.pid
    assert status["host"] == socket.gethostname()


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_worker_process_runs_a_migration_to_success(
    cluster_factory: Callable[..., Cluster], broker: str
) -> None:
    cluster = cluster_factory(broker_url=REDIS_URL if broker == "redis" else RABBITMQ_URL)
    worker = cluster.start_worker(concurrency=1)

    migration_id, task_id = cluster.create(BOTH)
    status = cluster.wait_for_end(migration_id)

    assert status["status"] == "SUCCESS", status
    assert status["result"] is True
    assert status["id"] == task_id
    assert_ran_in_worker_child(cluster, worker, status)
    assert cluster.history(migration_id) == [
        "Created",
        "Started",
        "OutputProduced",
        "OutputProduced",
        "Completed",
    ]


def test_a_killed_worker_is_swept_and_another_finishes_without_redoing_outputs(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory("tests.support.producers:build_slow", TEST_PRODUCER_SLEEP="1.5")
    first = cluster.start_worker(concurrency=1)
    migration_id, _ = cluster.create(BOTH)

    def mid_run() -> dict[str, Any] | None:
        status = cluster.status(migration_id)
        assert status["status"] in {"PENDING", "STARTED"}, status
        if "OutputProduced" in cluster.history(migration_id):
            return status
        return None

    running = wait_for("one output recorded, the other under way", mid_run)
    first.kill()
    assert cluster.status(migration_id)["status"] == "STARTED"  # nobody ended the attempt
    recorded_before_kill = {
        e.name for e in cluster.events(migration_id) if isinstance(e, Migration.OutputProduced)
    }

    cluster.start_worker(concurrency=1)
    status = cluster.wait_for_end(migration_id)

    assert status["status"] == "SUCCESS", status
    events = cluster.events(migration_id)
    lost = [e for e in events if isinstance(e, Migration.RetryScheduled)]
    assert [e.error for e in lost] == [f"worker lost: {running['host']}/{running['pid']}"]
    assert [e.attempt for e in events if isinstance(e, Migration.Started)] == [1, 2]
    produced = Counter(e.name for e in events if isinstance(e, Migration.OutputProduced))
    assert produced == Counter({"web": 1, "size_report": 1})
    # The killed attempt's last producer call may have finished unrecorded and been made again;
    # no output was made twice in one attempt (a pid per attempt), nor again once recorded.
    lines = cluster.lines(migration_id)
    assert max(Counter(lines).values()) == 1, lines
    assert {pid for _, pid in lines} <= {running["pid"], status["pid"]}, lines
    for output in recorded_before_kill:
        assert [pid for name, pid in lines if name == output] == [running["pid"]], lines


def test_a_killed_pool_child_is_replaced_and_its_attempt_swept(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory("tests.support.producers:build_slow", TEST_PRODUCER_SLEEP="1.5")
    worker = cluster.start_worker(concurrency=1)
    migration_id, _ = cluster.create(BOTH)

    def mid_run() -> dict[str, Any] | None:
        recorded = "OutputProduced" in cluster.history(migration_id)
        return cluster.status(migration_id) if recorded else None

    running = wait_for("one output recorded", mid_run)
    # Only the child dies: the main process sends the delivery back to the queue (reject on
    # worker lost); the new child finds the attempt still STARTED, and the sweeper retries it.
    os.kill(running["pid"], signal.SIGKILL)
    status = cluster.wait_for_end(migration_id)

    assert status["status"] == "SUCCESS", status
    assert parent_of(status["pid"]) == worker.process.pid
    assert cluster.history(migration_id) == [
        "Created",
        "Started",
        "OutputProduced",
        "RetryScheduled",
        "Started",
        "OutputProduced",
        "Completed",
    ]
    lost = next(e for e in cluster.events(migration_id) if isinstance(e, Migration.RetryScheduled))
    assert lost.error == f"worker lost: {running['host']}/{running['pid']}"


def test_two_hundred_duplicate_deliveries_start_the_migration_once(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory("tests.support.producers:build_slow", TEST_PRODUCER_SLEEP="0.3")
    cluster.start_worker(concurrency=4)
    cluster.start_worker(concurrency=4)
    dispatcher = cluster.runtime.engine.migrations.dispatcher
    assert isinstance(dispatcher, CeleryDispatcher)

    migration_id, task_id = cluster.create(BOTH)
    for _ in range(200):
        dispatcher.dispatch(migration_id, task_id)
    status = cluster.wait_for_end(migration_id)
    wait_for("the queue to drain", lambda: cluster.queue_length() == 0)
    time.sleep(1.0)  # the last deliveries taken from the queue are run

    assert status["status"] == "SUCCESS", status
    assert cluster.history(migration_id).count("Started") == 1
    assert Counter(o for o, _ in cluster.lines(migration_id, CALLS_LOG)) == Counter(
        {"web": 1, "size_report": 1}
    )


def test_revoking_a_running_migration_stops_it_before_its_next_output(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory("tests.support.producers:build_slow", TEST_PRODUCER_SLEEP="2")
    cluster.start_worker(concurrency=1)
    migration_id, _ = cluster.create(BOTH)
    wait_for("the first output to be under way", lambda: cluster.lines(migration_id, CALLS_LOG))
    assert cluster.status(migration_id)["status"] == "STARTED"

    cluster.runtime.engine.migrations.revoke(cluster.author.caller, migration_id, "stop it")
    wait_for("the attempt to end", lambda: cluster.runtime.engine.leases.get(migration_id) is None)

    assert cluster.status(migration_id)["status"] == "REVOKED"
    history = cluster.history(migration_id)
    assert "OutputProduced" not in history[history.index("Revoked") :], history
    assert history[-1] == "Revoked"
    assert "size_report" not in {o for o, _ in cluster.lines(migration_id, CALLS_LOG)}
    assert "size_report" not in {o for o, _ in cluster.lines(migration_id)}


def test_a_migration_revoked_while_every_worker_is_down_never_starts(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory("tests.support.producers:build_slow", TEST_PRODUCER_SLEEP="0.1")
    migration_id, _ = cluster.create(BOTH)
    cluster.runtime.engine.migrations.revoke(cluster.author.caller, migration_id, "not now")
    assert cluster.queue_length() == 1  # the delivery waits in the queue

    worker = cluster.start_worker(concurrency=1)
    wait_for("the delivery to be taken", lambda: cluster.queue_length() == 0)
    wait_for("the delivery to be run", lambda: f"{migration_id}: REVOKED" in worker.log.read_text())
    time.sleep(2.0)  # the sweepers pass a few times too

    assert cluster.status(migration_id)["status"] == "REVOKED"
    assert cluster.history(migration_id) == ["Created", "Revoked"]
    assert cluster.lines(migration_id, CALLS_LOG) == []


def test_retryable_failures_are_retried_with_exponential_backoff(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory("tests.support.producers:build_flaky", TEST_PRODUCER_FAILURES="2")
    cluster.start_worker(concurrency=1)
    migration_id, _ = cluster.create({"size_report": True})

    seen: list[str] = []

    def ended() -> bool:
        status = cluster.status(migration_id)["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        return status in TERMINAL

    wait_for(f"{migration_id} to end", ended)

    assert seen[-1] == "SUCCESS", seen
    assert "RETRY" in seen, seen
    events = cluster.events(migration_id)
    assert [type(e).__name__ for e in events] == [
        "Created",
        "Started",
        "RetryScheduled",
        "Started",
        "RetryScheduled",
        "Started",
        "OutputProduced",
        "Completed",
    ]
    retries = [e for e in events if isinstance(e, Migration.RetryScheduled)]
    assert [e.error for e in retries] == [
        "size_report service refused the connection (call 1)",
        "size_report service refused the connection (call 2)",
    ]
    for retry, expected in zip(retries, (0.5, 1.0), strict=True):
        delay = (retry.retry_at - retry.timestamp).total_seconds()
        assert expected - 0.1 < delay <= expected + 0.01, (expected, delay)
    starts = [e for e in events if isinstance(e, Migration.Started)]
    for retry, start in zip(retries, starts[1:], strict=True):
        assert start.timestamp >= retry.retry_at, (start.timestamp, retry.retry_at)
        assert start.timestamp - retry.retry_at < timedelta(seconds=2)
