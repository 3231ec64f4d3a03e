"""The audit of a migration's events: a hash chain that shows tampering, and legal steps only."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from application.event_log import EventLog
from domain.chain import check_chain, link
from domain.migration import Migration
from domain.migration_audit import check_sequence

WORK = {"id": "w-" + "a" * 32, "name": "The Lighthouse", "sub_name": "Issue 1", "owner_id": "u-1"}
RETRY_AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def output(name: str, size: int = 10) -> dict[str, Any]:
    return {"url": f"/outputs/m/{name}/index.html", "bytes": size, "sha256": "0" * 64}


def requested(*outputs: str) -> Migration:
    return Migration.request(
        work=WORK, requester_id="u-" + "b" * 32, features=dict.fromkeys(outputs, True)
    )


def events_of(migration: Migration) -> list[Any]:
    """The events the migration has recorded and not yet saved."""
    return list(migration.collect_events())


def completed_events() -> list[Any]:
    """Created, started, web and stash produced, completed: versions 1 to 5."""
    migration = requested("web", "stash")
    migration.start(host="worker-a", pid=101, worker_id="wk-1")
    migration.record_output("web", output("web"), web_script="/outputs/m/web/script.json")
    migration.record_output("stash", output("stash"))
    migration.complete()
    return events_of(migration)


def full_lifecycle_events() -> list[Any]:
    """Every kind of event: a retry, a takeover, a failure, a manual retry, then success."""
    migration = requested("web", "video")
    migration.start(host="worker-a", pid=101, worker_id="wk-1")
    migration.record_output("web", output("web"))
    migration.schedule_retry(error="video service timed out", output="video", retry_at=RETRY_AT)
    migration.start(host="worker-b", pid=202, worker_id="wk-2")
    migration.start(host="worker-c", pid=303, worker_id="wk-3", takeover=True)
    migration.fail(error="the video is too long", output="video")
    migration.request_retry(by="u-admin")
    migration.start(host="worker-c", pid=303, worker_id="wk-3")
    migration.record_output("video", output("video"))
    migration.complete()
    return events_of(migration)


def renumbered(event: Any, version: int) -> Any:
    return replace(event, originator_version=version)


# The hash chain -------------------------------------------------------------


def test_a_full_lifecycle_has_an_intact_chain() -> None:
    events = full_lifecycle_events()

    assert [type(e).__name__ for e in events] == [
        "Created",
        "Started",
        "OutputProduced",
        "RetryScheduled",
        "Started",
        "Started",
        "Failed",
        "RetryRequested",
        "Started",
        "OutputProduced",
        "Completed",
    ]
    assert all(isinstance(e.chain, str) and len(e.chain) == 64 for e in events)
    assert len({e.chain for e in events}) == len(events)
    assert check_chain(events) == []


def test_each_link_hashes_the_previous_link_with_the_event() -> None:
    created, started, *_ = completed_events()

    assert created.chain == link(None, "migration.created", 1, created.timestamp, vars(created))
    assert started.chain == link(
        created.chain, "migration.started", 2, started.timestamp, vars(started)
    )


def test_the_chain_survives_being_stored_and_loaded() -> None:
    log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    migration = requested("web", "stash")
    migration.start(host="worker-a", pid=101, worker_id="wk-1")
    migration.record_output("web", output("web"))
    log.save(migration)

    loaded: Migration = log.repository.get(migration.id)
    loaded.record_output("stash", output("stash"))
    loaded.complete()
    log.save(loaded)

    assert check_chain(log.events.get(migration.id)) == []


def test_changing_one_events_data_breaks_the_chain_at_exactly_that_event() -> None:
    events = completed_events()
    web = events[2]
    assert isinstance(web, Migration.OutputProduced)

    events[2] = replace(web, value={**web.value, "bytes": 11})

    findings = check_chain(events)
    assert [(f.version, f.topic, f.kind) for f in findings] == [
        (3, "migration.output_produced", "broken")
    ]


@pytest.mark.parametrize(
    ("version", "change"),
    [
        (1, {"requester_id": "u-" + "c" * 32}),
        (2, {"host": "evil-host"}),
        (4, {"name": "web"}),
        (5, {"result": False}),
    ],
)
def test_any_changed_field_is_noticed(version: int, change: dict[str, Any]) -> None:
    events = completed_events()

    events[version - 1] = replace(events[version - 1], **change)

    assert [(f.version, f.kind) for f in check_chain(events)] == [(version, "broken")]


def test_changing_an_events_time_breaks_the_chain() -> None:
    events = completed_events()

    events[1] = replace(events[1], timestamp=datetime(2017, 4, 11, 22, 13, 4, tzinfo=UTC))

    assert [(f.version, f.kind) for f in check_chain(events)] == [(2, "broken")]


def test_rehashing_a_changed_event_moves_the_break_to_the_next_one() -> None:
    events = completed_events()
    web = events[2]
    forged = replace(web, value={**web.value, "bytes": 11})
    events[2] = replace(
        forged,
        chain=link(events[1].chain, forged.TOPIC, 3, forged.timestamp, vars(forged)),
    )

    assert [(f.version, f.kind) for f in check_chain(events)] == [(4, "broken")]


def test_reordering_events_breaks_the_chain() -> None:
    created, started, web, stash, completed = completed_events()

    findings = check_chain([created, started, stash, web, completed])

    assert findings
    assert {f.kind for f in findings} == {"broken"}
    assert findings[0].version == 4  # the first event out of its place


def test_dropping_an_event_breaks_the_chain_after_the_gap() -> None:
    created, started, _web, stash, completed = completed_events()

    findings = check_chain([created, started, stash, completed])

    assert [(f.version, f.kind) for f in findings] == [(4, "broken")]


# Legal steps ----------------------------------------------------------------


def retried_after_failure() -> list[Any]:
    migration = requested("web")
    migration.start(host="worker-a", pid=101, worker_id="wk-1")
    migration.fail(error="disk full", output="web")
    migration.request_retry(by="u-admin")
    migration.start(host="worker-a", pid=101, worker_id="wk-1")
    migration.record_output("web", output("web"))
    migration.complete()
    return events_of(migration)


def revoked_while_running() -> list[Any]:
    migration = requested("web", "stash")
    migration.start(host="worker-a", pid=101, worker_id="wk-1")
    migration.record_output("web", output("web"))
    migration.revoke(by="u-admin", reason="wrong work")
    return events_of(migration)


def failed_while_pending() -> list[Any]:
    migration = requested("web")
    migration.fail(error="the work was deleted")
    return events_of(migration)


@pytest.mark.parametrize(
    "history",
    [
        completed_events,
        full_lifecycle_events,
        retried_after_failure,
        revoked_while_running,
        failed_while_pending,
        lambda: events_of(requested("web")),
    ],
    ids=["completed", "full-lifecycle", "retried", "revoked", "failed-pending", "created"],
)
def test_every_legal_history_passes_the_sequence_check(history: Any) -> None:
    assert check_sequence(history()) == []


def test_an_output_after_completion_is_illegal() -> None:
    events = completed_events()
    web = events[2]

    problems = check_sequence([*events, renumbered(web, 6)])

    assert {p.version for p in problems} == {6}
    assert any("output produced while SUCCESS" in p.reason for p in problems)
    assert all(p.topic == "migration.output_produced" for p in problems)


def test_completing_with_an_output_missing_is_illegal() -> None:
    created, started, web, _stash, completed = completed_events()

    problems = check_sequence([created, started, web, renumbered(completed, 4)])

    assert [(p.version, p.topic) for p in problems] == [(4, "migration.completed")]
    assert "missing ['stash']" in problems[0].reason


def test_starting_twice_without_a_retry_is_illegal() -> None:
    created, started, *_ = completed_events()

    problems = check_sequence([created, started, renumbered(started, 3)])

    assert [(p.version, p.topic) for p in problems] == [(3, "migration.started")]
    assert problems[0].reason == "attempt 1 after attempt 1"


def test_a_gap_in_the_versions_is_illegal() -> None:
    created, started, *_ = completed_events()

    problems = check_sequence([created, renumbered(started, 3)])

    assert [(p.version, p.reason) for p in problems] == [(3, "version 3 follows version 1")]


def test_a_retry_requested_when_not_failed_is_illegal() -> None:
    created, _started, failed, retry_requested, *_ = retried_after_failure()
    assert isinstance(failed, Migration.Failed)
    assert isinstance(retry_requested, Migration.RetryRequested)

    problems = check_sequence([created, renumbered(retry_requested, 2)])

    assert [(p.version, p.topic) for p in problems] == [(2, "migration.retry_requested")]
    assert problems[0].reason == "retry requested while PENDING"


def test_an_event_before_creation_is_illegal() -> None:
    _created, started, *_ = completed_events()

    problems = check_sequence([renumbered(started, 1)])

    assert [(p.version, p.reason) for p in problems] == [
        (1, "an event before the migration was created")
    ]


# Events stored before the chain existed ---------------------------------------


def stored_without_chain(record: StoredEvent) -> StoredEvent:
    """The record as the first release wrote it: no chain, no class_version."""
    state = json.loads(record.state)
    del state["chain"], state["class_version"]
    return StoredEvent(
        originator_id=record.originator_id,
        originator_version=record.originator_version,
        topic=record.topic,
        state=json.dumps(state, separators=(",", ":")).encode(),
    )


@pytest.fixture
def old_log() -> tuple[EventLog, Migration]:
    """A fresh log holding a completed migration written before the chain existed."""
    today = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    migration = requested("web", "stash")
    migration.start(host="worker-a", pid=101, worker_id="wk-1")
    migration.record_output("web", output("web"))
    migration.schedule_retry(error="Sta.sh timed out", output="stash", retry_at=RETRY_AT)
    today.save(migration)
    records = today.recorder.select_events(migration.id)

    old = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    old.recorder.insert_events([stored_without_chain(record) for record in records])
    return old, migration


def test_an_event_stored_before_the_chain_loads_and_folds(
    old_log: tuple[EventLog, Migration],
) -> None:
    log, original = old_log

    loaded: Migration = log.repository.get(original.id)

    assert loaded.version == 4
    assert loaded.status == "RETRY"
    assert loaded.outputs == original.outputs
    assert loaded.retry_at == RETRY_AT
    assert loaded.chain_head is None
    assert all(event.chain is None for event in log.events.get(original.id))


def test_an_event_stored_before_the_chain_is_unchained_not_broken(
    old_log: tuple[EventLog, Migration],
) -> None:
    log, original = old_log

    findings = check_chain(log.events.get(original.id))

    assert [(f.version, f.kind) for f in findings] == [
        (1, "unchained"),
        (2, "unchained"),
        (3, "unchained"),
        (4, "unchained"),
    ]
    assert check_sequence(log.events.get(original.id)) == []


def test_an_old_migration_continues_with_chained_events(
    old_log: tuple[EventLog, Migration],
) -> None:
    log, original = old_log
    migration: Migration = log.repository.get(original.id)

    migration.start(host="worker-b", pid=202, worker_id="wk-2")
    migration.record_output("stash", output("stash"))
    migration.complete()
    log.save(migration)

    events = list(log.events.get(original.id))
    assert [e.chain is None for e in events] == [True] * 4 + [False] * 3
    assert {f.kind for f in check_chain(events)} == {"unchained"}
    assert [f.version for f in check_chain(events)] == [1, 2, 3, 4]
    assert check_sequence(events) == []
