"""Running migrations: failures are recorded, revocation stops work, leftovers are recovered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from uuid import UUID

import pytest

from application.engine import Engine
from application.migrations import CreateMigration
from application.ports import OutputJob, ProducedOutput
from application.retry_policy import RetryPolicy
from application.settings import Settings
from application.users import Caller
from domain.migration import Migration
from interface.runtime import Runtime, build_runtime
from interface.storage.artifacts import LocalArtifactStore
from interface.storage.work_content import LocalWorkContent
from tests.conftest import import_sample, make_person


class Exploding:
    """A producer that cannot make its output from this work."""

    name = "video"

    def produce(self, job: OutputJob) -> ProducedOutput:
        raise ValueError("page 3 cannot be encoded")


class Flaky:
    """A producer whose remote service refuses the first `failures` calls."""

    name = "video"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def produce(self, job: OutputJob) -> ProducedOutput:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"video service refused the connection (call {self.calls})")
        return ProducedOutput(value={"url": "/outputs/video.mp4", "bytes": 10})


class Revoking:
    """A producer during whose work an operator revokes the migration."""

    name = "web"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def produce(self, job: OutputJob) -> ProducedOutput:
        migration: Migration = self.engine.log.repository.get(UUID(hex=job.migration_id[2:]))
        migration.revoke(by="u-operator", reason="changed my mind")
        self.engine.log.save(migration)
        return ProducedOutput(value={"url": "/outputs/x"})


class Counting:
    def __init__(self, name: str = "size_report") -> None:
        self.name = name
        self.calls = 0

    def produce(self, job: OutputJob) -> ProducedOutput:
        self.calls += 1
        return ProducedOutput(value={"url": "/outputs/report.json", "bytes": 1})


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    settings.ensure_dirs()
    built = Engine(settings, producers={}, work_content=LocalWorkContent(settings.works_dir))
    yield built
    built.close()


def _runtime_of(engine: Engine, settings: Settings) -> Runtime:
    return Runtime(
        settings=settings, engine=engine, artifacts=LocalArtifactStore(settings.outputs_dir)
    )


def _create(engine: Engine, settings: Settings, features: dict[str, bool]) -> tuple[str, Caller]:
    runtime = _runtime_of(engine, settings)
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)
    created = engine.migrations.create(author.caller, CreateMigration(work_id, features))
    return created.detail["id"], author.caller


def test_a_failing_output_ends_the_migration_in_failure_with_the_error(
    engine: Engine, settings: Settings
) -> None:
    engine.runner.producers = {"video": Exploding()}
    engine.migrations.available_outputs = frozenset({"video"})
    migration_id, caller = _create(engine, settings, {"video": True})

    assert engine.runner.run(migration_id) == "FAILURE"

    status = engine.migrations.status(caller, migration_id)
    assert status["status"] == "FAILURE"
    assert status["result"] == "page 3 cannot be encoded"
    detail = engine.migrations.detail(caller, migration_id)
    assert detail["failed"] is True and detail["complete"] is False
    failed = list(engine.log.events.get(UUID(hex=migration_id[2:])))[-1]
    assert isinstance(failed, Migration.Failed) and failed.output == "video"


def test_a_retryable_failure_is_retried_and_resumes_where_it_stopped(
    engine: Engine, settings: Settings
) -> None:
    web, video = Counting("web"), Flaky(failures=1)
    engine.runner.producers = {"web": web, "video": video}  # web comes first
    engine.migrations.available_outputs = frozenset({"web", "video"})
    migration_id, caller = _create(engine, settings, {"web": True, "video": True})

    assert engine.runner.run(migration_id) == "RETRY"
    status = engine.migrations.status(caller, migration_id)
    assert status["status"] == "RETRY"
    assert status["result"] == "video service refused the connection (call 1)"
    migration: Migration = engine.log.repository.get(UUID(hex=migration_id[2:]))
    assert migration.retry_at is not None and migration.retry_at > migration.modified_on

    engine.runner.clock = lambda: migration.retry_at  # type: ignore[assignment,return-value]
    assert engine.runner.run(migration_id) == "SUCCESS"

    assert web.calls == 1  # produced in the first attempt, not redone
    events = list(engine.log.events.get(UUID(hex=migration_id[2:])))
    assert [type(e).__name__ for e in events] == [
        "Created",
        "Started",
        "OutputProduced",
        "RetryScheduled",
        "Started",
        "OutputProduced",
        "Completed",
    ]
    assert [e.attempt for e in events if isinstance(e, Migration.Started)] == [1, 2]


def test_a_retry_delivered_early_waits_for_its_time(engine: Engine, settings: Settings) -> None:
    engine.runner.producers = {"video": Flaky(failures=1)}
    engine.migrations.available_outputs = frozenset({"video"})
    migration_id, caller = _create(engine, settings, {"video": True})
    engine.runner.run(migration_id)

    assert engine.runner.run(migration_id) == "RETRY"  # before retry_at: not started

    assert engine.migrations.status(caller, migration_id)["status"] == "RETRY"


def test_retries_stop_when_attempts_are_exhausted(engine: Engine, settings: Settings) -> None:
    engine.runner.producers = {"video": Flaky(failures=100)}
    engine.runner.policy = RetryPolicy(max_attempts=3, initial_interval=0, jitter=0)
    engine.migrations.available_outputs = frozenset({"video"})
    migration_id, caller = _create(engine, settings, {"video": True})

    outcomes = [engine.runner.run(migration_id) for _ in range(4)]

    assert outcomes == ["RETRY", "RETRY", "FAILURE", "FAILURE"]
    status = engine.migrations.status(caller, migration_id)
    assert status["result"] == "video service refused the connection (call 3)"


def test_a_migration_revoked_while_running_produces_nothing_more(
    engine: Engine, settings: Settings
) -> None:
    size_report = Counting()
    engine.runner.producers = {"web": Revoking(engine), "size_report": size_report}
    engine.migrations.available_outputs = frozenset({"web", "size_report"})
    migration_id, caller = _create(engine, settings, {"web": True, "size_report": True})

    assert engine.runner.run(migration_id) == "REVOKED"

    detail = engine.migrations.detail(caller, migration_id)
    assert detail["outputs"]["web"] is None and detail["outputs"]["size_report"] is None
    assert size_report.calls == 0
    assert engine.runner.run(migration_id) == "REVOKED"  # a repeated delivery is a no-op


def test_a_migration_left_started_by_a_dead_process_is_finished_on_start_up(
    sqlite_settings: Settings,
) -> None:
    first = build_runtime(sqlite_settings, with_executor=False)
    author = make_person(first, "author")
    work_id = import_sample(first, author)
    migration_id = first.engine.migrations.create(
        author.caller, CreateMigration(work_id, {"web": True, "size_report": True})
    ).detail["id"]
    pending_id = first.engine.migrations.create(
        author.caller, CreateMigration(work_id, {"size_report": True})
    ).detail["id"]
    # The first process started an attempt and produced one output, then died.
    migration: Migration = first.engine.log.repository.get(UUID(hex=migration_id[2:]))
    migration.start(host="gone-host", pid=1, worker_id="gone")
    migration.record_output("web", {"url": "/outputs/old/web/index.html"}, web_script="s.json")
    first.engine.log.save(migration)
    first.close()

    second = build_runtime(sqlite_settings)
    try:
        second.start()
        deadline = time.monotonic() + 30
        statuses: list[str] = []
        while time.monotonic() < deadline:
            statuses = [
                second.engine.migrations.status(author.caller, mid)["status"]
                for mid in (migration_id, pending_id)
            ]
            if statuses == ["SUCCESS", "SUCCESS"]:
                break
            time.sleep(0.05)
        assert statuses == ["SUCCESS", "SUCCESS"]
        events = list(second.engine.log.events.get(UUID(hex=migration_id[2:])))
        produced = [e.name for e in events if isinstance(e, Migration.OutputProduced)]
        assert sorted(produced) == ["size_report", "web"]  # web was not produced again
        started = [e for e in events if isinstance(e, Migration.Started)]
        assert [s.attempt for s in started] == [1, 2]
        assert started[-1].host == second.engine.runner.identity.host
    finally:
        second.close()
