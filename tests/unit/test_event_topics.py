"""Stored topics are stable names, not module paths: moving or renaming a class orphans nothing."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.utils import (
    TopicError,
    construct_topic,
    get_topic,
    register_topic,
    resolve_topic,
)
from eventsourcing.utils import _topic_cache as topic_registry

from application.event_log import EventLog
from domain.migration import Migration, Status

# The event classes the @event decorators made, by their Python names.
CREATED: type = vars(Migration)["Created"]
STARTED: type = vars(Migration)["Started"]

IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}

LIFECYCLE_TOPICS = [
    "migration.created",
    "migration.started",
    "migration.output_produced",
    "migration.retry_scheduled",
    "migration.started",
    "migration.failed",
    "migration.retry_requested",
    "migration.started",
    "migration.output_produced",
    "migration.completed",
]


@pytest.fixture
def event_log() -> Iterator[EventLog]:
    app = EventLog(env=IN_MEMORY)
    yield app
    app.close()


def output(name: str) -> dict[str, Any]:
    return {"uri": f"file:///out/{name}", "bytes": 10, "sha256": "0" * 64, "details": {}}


def whole_lifecycle(app: EventLog) -> Migration:
    """A migration saved after every step: retried, failed, retried by hand, then completed."""
    migration = Migration.request(
        work={"id": "w-" + "a" * 32, "name": "N", "sub_name": "S", "owner_id": "u-1"},
        requester_id="u-1",
        features={"web": True, "stash": True},
    )
    app.save(migration)
    steps = [
        lambda: migration.start(host="worker-a", pid=1, worker_id="wk-1"),
        lambda: migration.record_output("web", output("web"), web_script="<script/>"),
        lambda: migration.schedule_retry(
            error="stash timed out", output="stash", retry_at=datetime(2030, 1, 1, tzinfo=UTC)
        ),
        lambda: migration.start(host="worker-b", pid=2, worker_id="wk-2"),
        lambda: migration.fail(error="stash refused", output="stash"),
        lambda: migration.request_retry(by="u-admin"),
        lambda: migration.start(host="worker-c", pid=3, worker_id="wk-3"),
        lambda: migration.record_output("stash", output("stash")),
        migration.complete,
    ]
    for step in steps:
        step()
        app.save(migration)
    return migration


def stored(app: EventLog) -> list[Notification]:
    return list(app.recorder.select_notifications(start=1, limit=100))


def test_the_stored_topics_are_the_stable_names_in_order(event_log: EventLog) -> None:
    whole_lifecycle(event_log)

    topics = [record.topic for record in stored(event_log)]

    assert topics == LIFECYCLE_TOPICS


def test_a_revoked_migration_stores_its_revocation_under_a_stable_name(
    event_log: EventLog,
) -> None:
    migration = Migration.request(work={}, requester_id=None, features={"web": True})
    migration.revoke(by="u-admin", reason="wrong work")
    event_log.save(migration)

    assert [record.topic for record in stored(event_log)] == [
        "migration.created",
        "migration.revoked",
    ]


def test_no_stored_record_mentions_a_module_path(event_log: EventLog) -> None:
    whole_lifecycle(event_log)

    for record in stored(event_log):
        assert ":" not in record.topic
        assert "domain" not in record.topic
        assert b"domain.migration" not in record.state


def test_the_created_record_names_the_aggregate_by_its_stable_topic(event_log: EventLog) -> None:
    whole_lifecycle(event_log)

    created = stored(event_log)[0]

    assert json.loads(created.state)["originator_topic"] == "migration"


def test_a_fresh_application_rebuilds_the_migration_from_the_stored_records(
    event_log: EventLog,
) -> None:
    migration = whole_lifecycle(event_log)
    records = [
        StoredEvent(
            originator_id=r.originator_id,
            originator_version=r.originator_version,
            topic=r.topic,
            state=r.state,
        )
        for r in stored(event_log)
    ]
    fresh = EventLog(env=IN_MEMORY)
    try:
        assert fresh.recorder.select_notifications(start=1, limit=100) == []
        fresh.recorder.insert_events(records)

        rebuilt: Migration = fresh.repository.get(migration.id)
    finally:
        fresh.close()

    assert isinstance(rebuilt, Migration)
    assert rebuilt.status == Status.SUCCESS
    assert rebuilt.attempts == 3
    assert rebuilt.outputs == {"web": output("web"), "stash": output("stash")}
    assert rebuilt.web_script == "<script/>"
    assert rebuilt.version == len(LIFECYCLE_TOPICS)
    assert vars(rebuilt) == vars(migration)


def test_a_stable_topic_resolves_from_the_registry_not_by_importing_a_module() -> None:
    assert resolve_topic("migration.started") is STARTED
    assert resolve_topic("migration") is Migration
    with pytest.raises(TopicError):
        resolve_topic("migration.never_registered")


ALL_TOPICS = sorted(set(LIFECYCLE_TOPICS) | {"migration.revoked"})


@contextmanager
def moved_to_another_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As in a later process where domain.migration is gone and its classes live elsewhere.

    Only what the class statements register in that process is known: the stable topics.
    """
    classes = [Migration, *(resolve_topic(topic) for topic in ALL_TOPICS)]
    originals = [(cls, cls.__module__, cls.__qualname__) for cls in classes]
    # The library's own topic registry, emptied so no topic resolves from this process' past.
    registry = dict(topic_registry)
    monkeypatch.setitem(sys.modules, "domain.migration", None)
    try:
        topic_registry.clear()
        for cls in classes:
            cls.__module__ = "somewhere.else.entirely"
            cls.__qualname__ = "Renamed" + cls.__name__
            register_topic(construct_topic(cls), cls)
        yield
    finally:
        for cls, module, qualname in originals:
            cls.__module__ = module
            cls.__qualname__ = qualname
        topic_registry.clear()
        topic_registry.update(registry)


def test_stored_events_still_load_after_their_classes_are_renamed_and_moved(
    event_log: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    migration = whole_lifecycle(event_log)
    records = stored(event_log)
    fresh = EventLog(env=IN_MEMORY)
    try:
        with moved_to_another_module(monkeypatch):
            # A topic naming the old module path would now be orphaned...
            with pytest.raises(TopicError):
                resolve_topic("domain.migration:Migration.Started")
            # ...but the stored topics do not name it.
            assert construct_topic(STARTED) == "migration.started"
            events = [event_log.mapper.to_domain_event(record) for record in records]
            fresh.recorder.insert_events([fresh.mapper.to_stored_event(e) for e in events])
            rebuilt: Migration = fresh.repository.get(migration.id)
        restored_topics = [r.topic for r in stored(fresh)]
    finally:
        fresh.close()

    assert [type(e) for e in events[:2]] == [CREATED, STARTED]
    assert restored_topics == LIFECYCLE_TOPICS
    assert isinstance(rebuilt, Migration)
    assert rebuilt.status == Status.SUCCESS
    assert rebuilt.attempts == 3
    assert vars(rebuilt) == vars(migration)


def test_the_topic_is_not_the_python_name_of_the_event_class() -> None:
    migration = Migration.request(work={}, requester_id=None, features={})
    migration.start(host="h", pid=1, worker_id="w")
    events = migration.collect_events()
    started = type(events[1])

    assert started.__qualname__ == "Migration.Started"
    assert started.__qualname__ != construct_topic(started)
    assert get_topic(started) == "migration.started"
    assert get_topic(type(events[0])) == "migration.created"
    assert get_topic(Migration) == "migration"
