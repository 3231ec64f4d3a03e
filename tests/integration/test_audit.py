"""The audit trail on every store: history, the past at any version or moment, export, verify,
and replays that never dispatch or produce anything."""

from __future__ import annotations

import json
import re
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from application.errors import NotFoundError
from application.migrations import CreateMigration
from application.read_models.migration_list import ListQuery, MigrationListProjection
from application.read_models.migration_list_stores import construct_list_view
from application.users import Caller
from domain.migration import Migration
from interface.runtime import Runtime
from tests.conftest import Person, fresh_postgres_schema, import_sample, make_person
from tests.integration.test_execution import Counting, Flaky

SEED_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
ADMIN = Caller(user_id="u-" + "0" * 32, role="admin")


class Recorder:
    """A dispatcher that remembers what it was handed."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, datetime | None]] = []
        self.lock = threading.Lock()

    def dispatch(self, migration_id: str, task_id: str, at: datetime | None = None) -> None:
        with self.lock:
            self.sent.append((migration_id, task_id, at))


@dataclass
class Story:
    """A migration that was retried once, then succeeded, and the people around it."""

    author: Person
    migration_id: str
    video: Flaky
    size_report: Counting


def retried_then_succeeded(runtime: Runtime) -> Story:
    """Created, started, video refused (RETRY), started again, video and size report, SUCCESS."""
    engine = runtime.engine
    video, size_report = Flaky(failures=1), Counting("size_report")
    engine.runner.producers = {"video": video, "size_report": size_report}
    engine.migrations.available_outputs = frozenset({"video", "size_report"})
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)
    migration_id = engine.migrations.create(
        author.caller, CreateMigration(work_id, {"video": True, "size_report": True})
    ).detail["id"]

    assert engine.runner.run(migration_id) == "RETRY"
    migration: Migration = engine.log.repository.get(UUID(hex=migration_id[2:]))
    engine.runner.clock = lambda: migration.retry_at  # type: ignore[assignment,return-value]
    assert engine.runner.run(migration_id) == "SUCCESS"
    return Story(author, migration_id, video, size_report)


STORY_TYPES = [
    "migration.created",
    "migration.started",
    "migration.retry_scheduled",
    "migration.started",
    "migration.output_produced",
    "migration.output_produced",
    "migration.completed",
]
STORY_STATUSES = ["PENDING", "STARTED", "RETRY", "STARTED", "STARTED", "STARTED", "SUCCESS"]


# History ----------------------------------------------------------------------


def test_history_returns_every_event_in_order_with_its_data(runtime: Runtime) -> None:
    story = retried_then_succeeded(runtime)

    page = runtime.engine.audit.history(story.author.caller, story.migration_id)

    assert page.count == len(STORY_TYPES)
    assert [entry.version for entry in page.entries] == list(range(1, len(STORY_TYPES) + 1))
    assert [entry.type for entry in page.entries] == STORY_TYPES
    assert all(SEED_TIMESTAMP.match(entry.timestamp) for entry in page.entries)
    assert [entry.timestamp for entry in page.entries] == sorted(
        entry.timestamp for entry in page.entries
    )
    created, started, retry, restarted, video, report, completed = page.entries
    assert created.data["features"]["video"] is True
    assert created.data["requester_id"] == story.author.caller.user_id
    assert started.data["attempt"] == 1 and restarted.data["attempt"] == 2
    assert started.data["host"] == runtime.engine.runner.identity.host
    assert retry.data["error"] == "video service refused the connection (call 1)"
    assert SEED_TIMESTAMP.match(retry.data["retry_at"])
    assert (video.data["name"], video.data["value"]["bytes"]) == ("video", 10)
    assert report.data["name"] == "size_report"
    assert completed.data == {"result": True}
    assert all(isinstance(entry.chain, str) for entry in page.entries)
    for entry in page.entries:
        assert not {"originator_id", "originator_version", "timestamp", "chain"} & set(entry.data)


def test_history_is_paginated(runtime: Runtime) -> None:
    story = retried_then_succeeded(runtime)
    history = runtime.engine.audit.history

    first = history(story.author.caller, story.migration_id, limit=3)
    middle = history(story.author.caller, story.migration_id, limit=3, offset=3)
    last = history(story.author.caller, story.migration_id, limit=3, offset=6)
    beyond = history(story.author.caller, story.migration_id, limit=3, offset=10)

    assert [page.count for page in (first, middle, last, beyond)] == [7, 7, 7, 7]
    assert [e.version for e in first.entries] == [1, 2, 3]
    assert [e.version for e in middle.entries] == [4, 5, 6]
    assert [e.version for e in last.entries] == [7]
    assert beyond.entries == []
    whole = history(story.author.caller, story.migration_id)
    assert [*first.entries, *middle.entries, *last.entries] == whole.entries


def test_history_is_visible_to_whoever_sees_the_detail(runtime: Runtime) -> None:
    story = retried_then_succeeded(runtime)
    stranger = make_person(runtime, "author")
    admin = make_person(runtime, "admin")
    history = runtime.engine.audit.history

    with pytest.raises(NotFoundError):
        runtime.engine.migrations.detail(stranger.caller, story.migration_id)
    with pytest.raises(NotFoundError):
        history(stranger.caller, story.migration_id)
    with pytest.raises(NotFoundError):
        history(admin.caller, "m-" + "f" * 32)
    with pytest.raises(NotFoundError):
        history(admin.caller, "not-an-id")
    assert history(admin.caller, story.migration_id).count == 7


# The past -----------------------------------------------------------------------


def test_each_version_shows_the_migration_as_it_was(runtime: Runtime) -> None:
    story = retried_then_succeeded(runtime)
    migrations, caller = runtime.engine.migrations, story.author.caller

    statuses = [
        migrations.status(caller, story.migration_id, version=version)["status"]
        for version in range(1, 8)
    ]
    details = [
        migrations.detail(caller, story.migration_id, version=version) for version in range(1, 8)
    ]

    assert statuses == STORY_STATUSES
    assert migrations.status(caller, story.migration_id) == migrations.status(
        caller, story.migration_id, version=7
    )
    assert migrations.detail(caller, story.migration_id) == details[-1]
    retrying = migrations.status(caller, story.migration_id, version=3)
    assert retrying["result"] == "video service refused the connection (call 1)"
    assert [d["outputs"]["video"] is not None for d in details] == [False] * 4 + [True] * 3
    assert [d["outputs"]["size_report"] is not None for d in details] == [False] * 5 + [True] * 2
    assert [d["complete"] for d in details] == [False] * 6 + [True]
    assert len({d["updated"] for d in details}) == 7
    assert {d["created"] for d in details} == {details[0]["created"]}


def test_each_events_moment_shows_the_same_as_its_version(runtime: Runtime) -> None:
    story = retried_then_succeeded(runtime)
    migrations, caller = runtime.engine.migrations, story.author.caller
    entries = runtime.engine.audit.history(caller, story.migration_id).entries

    for entry in entries:
        moment = datetime.fromisoformat(entry.timestamp.replace("Z", "+00:00"))
        assert migrations.detail(caller, story.migration_id, as_of=moment) == migrations.detail(
            caller, story.migration_id, version=entry.version
        ), entry.version
        assert migrations.status(caller, story.migration_id, as_of=moment) == migrations.status(
            caller, story.migration_id, version=entry.version
        ), entry.version

    last = datetime.fromisoformat(entries[-1].timestamp.replace("Z", "+00:00"))
    later = migrations.status(caller, story.migration_id, as_of=last + timedelta(days=1))
    assert later["status"] == "SUCCESS"


def test_before_its_creation_a_migration_is_not_found(runtime: Runtime) -> None:
    story = retried_then_succeeded(runtime)
    migrations, caller = runtime.engine.migrations, story.author.caller
    created = runtime.engine.audit.history(caller, story.migration_id).entries[0].timestamp
    before = datetime.fromisoformat(created.replace("Z", "+00:00")) - timedelta(microseconds=1)

    with pytest.raises(NotFoundError, match="did not exist yet"):
        migrations.detail(caller, story.migration_id, as_of=before)
    with pytest.raises(NotFoundError, match="did not exist yet"):
        migrations.status(caller, story.migration_id, as_of=before)


@pytest.mark.parametrize("version", [0, 8, 99])
def test_a_version_outside_the_history_is_not_found(runtime: Runtime, version: int) -> None:
    story = retried_then_succeeded(runtime)

    with pytest.raises(NotFoundError, match="versions 1 to 7"):
        runtime.engine.migrations.detail(story.author.caller, story.migration_id, version=version)


def test_the_past_is_as_private_as_the_present(runtime: Runtime) -> None:
    story = retried_then_succeeded(runtime)
    stranger = make_person(runtime, "author")

    with pytest.raises(NotFoundError):
        runtime.engine.migrations.detail(stranger.caller, story.migration_id, version=1)


# Export -------------------------------------------------------------------------


def test_export_yields_every_event_in_order_with_secrets_redacted(runtime: Runtime) -> None:
    story = retried_then_succeeded(runtime)
    users = runtime.engine.log.repository
    author = users.get(UUID(hex=story.author.caller.user_id[2:]))
    assert author.password_hash and author.token_hashes

    records = list(runtime.engine.audit.export())

    positions = [record["position"] for record in records]
    assert positions == sorted(set(positions))
    assert records[-1]["position"] == runtime.engine.audit.head
    prefixes = {"user": "u-", "work": "w-", "migration": "m-"}
    assert {record["type"].partition(".")[0] for record in records} == set(prefixes)
    for record in records:
        assert record["id"].startswith(prefixes[record["type"].partition(".")[0]]), record
    assert all(re.fullmatch(r"[muw]-[0-9a-f]{32}", record["id"]) for record in records)
    migration_records = [r for r in records if r["id"] == story.migration_id]
    assert [r["type"] for r in migration_records] == STORY_TYPES
    assert [r["version"] for r in migration_records] == list(range(1, 8))
    assert all(SEED_TIMESTAMP.match(record["timestamp"]) for record in records)
    registered = next(r for r in records if r["id"] == story.author.caller.user_id)
    assert registered["type"] == "user.registered"
    assert registered["data"]["password_hash"] == "<redacted>"
    issued = [r for r in records if r["type"] == "user.token_issued"]
    assert issued and all(r["data"]["token_hash"] == "<redacted>" for r in issued)
    text = "\n".join(json.dumps(record) for record in records)
    assert author.password_hash not in text
    assert not any(token_hash in text for token_hash in author.token_hashes)
    assert story.author.password not in text and story.author.token not in text


def test_export_since_a_moment_leaves_out_what_came_before(runtime: Runtime) -> None:
    story = retried_then_succeeded(runtime)
    audit = runtime.engine.audit
    everything = list(audit.export())
    retry = audit.history(story.author.caller, story.migration_id).entries[2]
    since = datetime.fromisoformat(retry.timestamp.replace("Z", "+00:00"))

    recent = list(audit.export(since=since))

    assert recent == [record for record in everything if record["timestamp"] >= retry.timestamp]
    assert [r["version"] for r in recent if r["id"] == story.migration_id] == [3, 4, 5, 6, 7]
    assert list(audit.export(since=since + timedelta(days=1))) == []


# Verify -------------------------------------------------------------------------


def test_a_clean_store_verifies_clean_with_the_right_counts(runtime: Runtime) -> None:
    story = retried_then_succeeded(runtime)
    pending = runtime.engine.migrations.create(
        story.author.caller,
        CreateMigration(import_sample(runtime, story.author), {"size_report": True}),
    ).detail["id"]
    revoked = runtime.engine.migrations.create(
        story.author.caller,
        CreateMigration(import_sample(runtime, story.author), {"video": True}),
    ).detail["id"]
    runtime.engine.migrations.revoke(story.author.caller, revoked, reason="wrong work")
    advanced: list[int] = []

    report = runtime.engine.audit.verify(progress=advanced.append)

    assert report.clean
    assert (report.migrations, report.events, report.unchained_events) == (3, 7 + 1 + 2, 0)
    assert (report.illegal, report.broken_chain, report.drift) == ([], [], [])
    assert sum(advanced) == 3
    assert runtime.engine.migrations.status(story.author.caller, pending)["status"] == "PENDING"


def test_an_empty_store_verifies_clean(runtime: Runtime) -> None:
    report = runtime.engine.audit.verify()

    assert report.clean
    assert (report.migrations, report.events) == (0, 0)


# Replays have no side effects ---------------------------------------------------


def test_replaying_the_log_dispatches_nothing_and_produces_nothing(runtime: Runtime) -> None:
    dispatched = Recorder()
    runtime.engine.use_dispatcher(dispatched)
    story = retried_then_succeeded(runtime)
    assert len(dispatched.sent) == 2  # the create, then the retry at its time
    assert (story.video.calls, story.size_report.calls) == (2, 1)
    runtime.engine.list_projection.catch_up()
    before = runtime.engine.migrations.page(ADMIN, ListQuery(limit=100))

    runtime.engine.audit.verify()
    exported = list(runtime.engine.audit.export())
    with ExitStack() as stack:
        env = runtime.settings.read_model_env()
        if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
            env["SQLITE_DBNAME"] = env["SQLITE_DBNAME"].replace("-views", "-views-rebuilt")
        else:
            env["POSTGRES_SCHEMA"] = stack.enter_context(fresh_postgres_schema())
        view = construct_list_view(env)
        stack.callback(view.close)
        rebuilt = MigrationListProjection(runtime.engine.log, view, batch_size=2)
        assert rebuilt.position == 0
        assert rebuilt.catch_up() == len(STORY_TYPES)
        assert rebuilt.view.page(ListQuery(limit=100)) == before

    assert exported[-1]["position"] == runtime.engine.audit.head
    assert len(dispatched.sent) == 2
    assert (story.video.calls, story.size_report.calls) == (2, 1)
    assert runtime.engine.migrations.status(story.author.caller, story.migration_id) == (
        runtime.engine.migrations.status(story.author.caller, story.migration_id, version=7)
    )
