"""The Migration aggregate: every legal transition, every refused one, its events and its ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic

from domain.errors import DomainError, IllegalTransitionError, InvalidFeatureError, OutputError
from domain.migration import FEATURES, Migration, Status

WORK = {"id": "w-" + "a" * 32, "name": "The Lighthouse", "sub_name": "Issue 1", "owner_id": "u-1"}
RETRY_AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def request(**overrides: Any) -> Migration:
    """A migration asking for the web and stash outputs (deviant_art asks for no output)."""
    fields: dict[str, Any] = {
        "work": WORK,
        "requester_id": "u-" + "b" * 32,
        "features": {"web": True, "stash": True, "video": False, "deviant_art": True},
    }
    fields.update(overrides)
    return Migration.request(**fields)


def output(name: str) -> dict[str, Any]:
    return {"uri": f"file:///out/{name}", "bytes": 10, "sha256": "0" * 64, "details": {}}


def started(**overrides: Any) -> Migration:
    migration = request(**overrides)
    migration.start(host="worker-a", pid=101, worker_id="wk-1")
    return migration


def completed() -> Migration:
    migration = started()
    migration.record_output("web", output("web"))
    migration.record_output("stash", output("stash"))
    migration.complete()
    return migration


def failed() -> Migration:
    migration = started()
    migration.fail(error="the work has no pages", output="web")
    return migration


def revoked() -> Migration:
    migration = request()
    migration.revoke(by="u-admin", reason="wrong work")
    return migration


def retrying() -> Migration:
    migration = started()
    migration.schedule_retry(error="stash timed out", output="stash", retry_at=RETRY_AT)
    return migration


def replay(migration: Migration) -> Migration:
    aggregate: Any = None
    for domain_event in migration.collect_events():
        aggregate = domain_event.mutate(aggregate)
    assert isinstance(aggregate, Migration)
    return aggregate


# Requesting -----------------------------------------------------------------


def test_a_requested_migration_is_pending_with_every_feature_listed() -> None:
    migration = request(project_id="p-1", master_project_id="mp-1")

    assert migration.status == Status.PENDING
    assert migration.attempts == 0
    assert migration.work == WORK
    assert migration.requester_id == "u-" + "b" * 32
    assert set(migration.features) == set(FEATURES)
    assert migration.features["web"] is True
    assert migration.features["video"] is False
    assert migration.features["youtube"] is None
    assert migration.requested_outputs == ("web", "stash")
    assert migration.missing_outputs == ("web", "stash")
    assert (migration.type, migration.primary, migration.encrypted) == ("deployment", True, True)
    assert migration.unencrypted is False
    assert (migration.project_id, migration.master_project_id) == ("p-1", "mp-1")
    assert UUID(migration.task_id)
    assert (migration.host, migration.pid, migration.worker_id) == (None, None, None)
    assert migration.outputs == {}
    assert migration.web_script is None
    assert migration.error is None
    assert migration.public_id == f"m-{migration.id.hex}"
    assert not migration.is_terminal


def test_an_unknown_feature_is_refused() -> None:
    with pytest.raises(InvalidFeatureError, match=r"unknown feature.*teleport"):
        request(features={"web": True, "teleport": True})


@pytest.mark.parametrize("value", [1, 0, "yes", "true", [True]])
def test_a_feature_that_is_not_a_boolean_is_refused(value: object) -> None:
    with pytest.raises(InvalidFeatureError, match="feature 'web' must be true, false or null"):
        request(features={"web": value})


def test_a_null_feature_is_accepted_as_not_asked_for() -> None:
    migration = request(features={"web": True, "stash": None})

    assert migration.features["stash"] is None
    assert migration.requested_outputs == ("web",)


def test_an_unknown_migration_type_is_refused() -> None:
    with pytest.raises(DomainError, match="type 'upgrade' is not supported"):
        request(type="upgrade")


# The happy path -------------------------------------------------------------


def test_a_migration_starts_produces_each_requested_output_and_completes() -> None:
    migration = request()
    task_id = migration.task_id

    migration.start(host="worker-a", pid=101, worker_id="wk-1")
    assert migration.status == Status.STARTED
    assert migration.attempts == 1
    assert (migration.host, migration.pid, migration.worker_id) == ("worker-a", 101, "wk-1")
    assert migration.task_id == task_id

    migration.record_output("web", output("web"), web_script="<script src='web.js'></script>")
    assert migration.status == Status.STARTED
    assert migration.outputs == {"web": output("web")}
    assert migration.web_script == "<script src='web.js'></script>"
    assert migration.missing_outputs == ("stash",)

    migration.record_output("stash", output("stash"))
    assert migration.outputs == {"web": output("web"), "stash": output("stash")}
    assert migration.web_script == "<script src='web.js'></script>"
    assert not migration.missing_outputs

    migration.complete()
    assert migration.status == Status.SUCCESS
    assert migration.is_terminal
    assert migration.error is None
    assert migration.attempts == 1


def test_a_retry_is_scheduled_then_a_second_attempt_completes_on_the_same_task() -> None:
    migration = started()
    task_id = migration.task_id
    migration.record_output("web", output("web"))

    migration.schedule_retry(error="stash timed out", output="stash", retry_at=RETRY_AT)
    assert migration.status == Status.RETRY
    assert migration.attempts == 1
    assert migration.error == "stash timed out"
    assert migration.failed_output == "stash"
    assert migration.retry_at == RETRY_AT
    assert not migration.is_terminal

    migration.start(host="worker-b", pid=202, worker_id="wk-2")
    assert migration.status == Status.STARTED
    assert migration.attempts == 2
    assert (migration.host, migration.pid, migration.worker_id) == ("worker-b", 202, "wk-2")
    assert migration.task_id == task_id
    assert migration.error is None
    assert migration.failed_output is None
    assert migration.retry_at is None
    assert migration.missing_outputs == ("stash",)

    migration.record_output("stash", output("stash"))
    migration.complete()
    assert migration.status == Status.SUCCESS
    assert migration.attempts == 2


def test_a_started_migration_can_fail() -> None:
    migration = started()

    migration.fail(error="the work has no pages", output="web")

    assert migration.status == Status.FAILURE
    assert migration.error == "the work has no pages"
    assert migration.failed_output == "web"
    assert migration.attempts == 1
    assert migration.is_terminal


def test_a_failed_migration_retried_by_hand_keeps_its_outputs_and_lists_only_the_missing() -> None:
    migration = started()
    migration.record_output("web", output("web"), web_script="<script/>")
    migration.fail(error="stash refused the upload", output="stash")

    migration.request_retry(by="u-admin")
    assert migration.status == Status.PENDING
    assert migration.error is None
    assert migration.failed_output is None
    assert migration.outputs == {"web": output("web")}
    assert migration.missing_outputs == ("stash",)

    migration.start(host="worker-c", pid=303, worker_id="wk-3")
    assert migration.status == Status.STARTED
    assert migration.attempts == 2
    assert migration.outputs == {"web": output("web")}
    assert migration.web_script == "<script/>"
    assert migration.missing_outputs == ("stash",)

    migration.record_output("stash", output("stash"))
    migration.complete()
    assert migration.status == Status.SUCCESS


@pytest.mark.parametrize("make", [request, started, retrying], ids=["PENDING", "STARTED", "RETRY"])
def test_an_unfinished_migration_can_be_revoked(make: Any) -> None:
    migration = make()

    migration.revoke(by="u-admin", reason="wrong work")

    assert migration.status == Status.REVOKED
    assert migration.revoked_by == "u-admin"
    assert migration.revoke_reason == "wrong work"
    assert migration.is_terminal


def test_a_started_migration_whose_worker_is_gone_can_be_taken_over() -> None:
    migration = started()
    task_id = migration.task_id

    migration.start(host="worker-b", pid=202, worker_id="wk-2", takeover=True)

    assert migration.status == Status.STARTED
    assert migration.attempts == 2
    assert (migration.host, migration.pid, migration.worker_id) == ("worker-b", 202, "wk-2")
    assert migration.task_id == task_id


# Refused transitions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "status"),
    [(completed, "SUCCESS"), (failed, "FAILURE"), (revoked, "REVOKED")],
    ids=["SUCCESS", "FAILURE", "REVOKED"],
)
@pytest.mark.parametrize("takeover", [False, True])
def test_a_finished_migration_cannot_be_started(make: Any, status: str, takeover: bool) -> None:
    migration = make()
    version = migration.version

    with pytest.raises(IllegalTransitionError, match=rf"cannot start .*status is {status}") as info:
        migration.start(host="worker-b", pid=202, worker_id="wk-2", takeover=takeover)

    assert info.value.status == status
    assert migration.status == status
    assert migration.version == version


def test_a_started_migration_cannot_be_started_again_without_takeover() -> None:
    migration = started()

    with pytest.raises(IllegalTransitionError) as info:
        migration.start(host="worker-b", pid=202, worker_id="wk-2")

    assert info.value.status == "STARTED"
    assert migration.attempts == 1
    assert migration.host == "worker-a"


def test_an_output_that_was_not_requested_cannot_be_recorded() -> None:
    migration = started()

    with pytest.raises(OutputError, match="output 'video' was not requested"):
        migration.record_output("video", output("video"))

    assert migration.outputs == {}


def test_an_output_cannot_be_recorded_twice() -> None:
    migration = started()
    migration.record_output("web", output("web"))

    with pytest.raises(OutputError, match=r"output 'web' .* was already produced"):
        migration.record_output("web", {"uri": "file:///other"})

    assert migration.outputs == {"web": output("web")}


@pytest.mark.parametrize(
    "make", [request, retrying, completed, failed, revoked], ids=lambda make: make.__name__
)
def test_an_output_can_only_be_recorded_while_started(make: Any) -> None:
    migration = make()
    status = migration.status
    version = migration.version

    with pytest.raises(IllegalTransitionError, match="cannot record output 'web'") as info:
        migration.record_output("web", output("web"))

    assert info.value.status == status
    assert migration.version == version


def test_a_migration_with_a_requested_output_missing_cannot_complete() -> None:
    migration = started()
    migration.record_output("web", output("web"))

    with pytest.raises(OutputError, match=r"output\(s\) stash not produced"):
        migration.complete()

    assert migration.status == Status.STARTED


def test_a_pending_migration_cannot_complete() -> None:
    migration = request(features={})
    assert migration.missing_outputs == ()

    with pytest.raises(IllegalTransitionError, match="cannot complete") as info:
        migration.complete()

    assert info.value.status == "PENDING"


@pytest.mark.parametrize(
    ("make", "status"),
    [(completed, "SUCCESS"), (failed, "FAILURE"), (revoked, "REVOKED")],
    ids=["SUCCESS", "FAILURE", "REVOKED"],
)
def test_a_finished_migration_cannot_be_revoked(make: Any, status: str) -> None:
    migration = make()

    with pytest.raises(IllegalTransitionError, match="cannot revoke") as info:
        migration.revoke(by="u-admin")

    assert info.value.status == status
    assert migration.status == status


@pytest.mark.parametrize(
    "make", [request, started, retrying, completed, revoked], ids=lambda make: make.__name__
)
def test_only_a_failed_migration_can_be_retried_by_hand(make: Any) -> None:
    migration = make()
    status = migration.status

    with pytest.raises(IllegalTransitionError, match="cannot retry") as info:
        migration.request_retry(by="u-admin")

    assert info.value.status == status
    assert migration.status == status


def test_a_retry_can_only_be_scheduled_for_a_started_migration() -> None:
    migration = request()

    with pytest.raises(IllegalTransitionError, match="cannot schedule a retry") as info:
        migration.schedule_retry(error="x", output=None, retry_at=RETRY_AT)

    assert info.value.status == "PENDING"


# Events -----------------------------------------------------------------------


def test_every_event_carries_its_stable_topic() -> None:
    migration = started()
    migration.record_output("web", output("web"))
    migration.schedule_retry(error="stash timed out", output="stash", retry_at=RETRY_AT)
    migration.start(host="worker-b", pid=202, worker_id="wk-2")
    migration.fail(error="stash refused the upload", output="stash")
    migration.request_retry(by="u-admin")
    migration.start(host="worker-c", pid=303, worker_id="wk-3")
    migration.record_output("stash", output("stash"))
    migration.complete()
    other = revoked()

    topics = [get_topic(type(e)) for e in migration.collect_events()]
    other_topics = [get_topic(type(e)) for e in other.collect_events()]

    assert topics == [
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
    assert other_topics == ["migration.created", "migration.revoked"]


def test_a_refused_command_records_no_event() -> None:
    migration = completed()
    migration.collect_events()

    with pytest.raises(IllegalTransitionError):
        migration.start(host="worker-b", pid=202, worker_id="wk-2")
    with pytest.raises(IllegalTransitionError):
        migration.record_output("web", output("web"))

    assert migration.collect_events() == []


def test_replaying_the_events_gives_the_same_migration() -> None:
    migration = started()
    migration.record_output("web", output("web"), web_script="<script/>")
    migration.schedule_retry(error="stash timed out", output="stash", retry_at=RETRY_AT)
    migration.start(host="worker-b", pid=202, worker_id="wk-2")
    migration.fail(error="stash refused the upload", output="stash")
    migration.request_retry(by="u-admin")
    migration.start(host="worker-c", pid=303, worker_id="wk-3")
    events = list(migration.pending_events)

    replayed = replay(migration)

    assert vars(replayed) == vars(migration)
    assert replayed.status == Status.STARTED
    assert replayed.attempts == 3
    assert replayed.outputs == {"web": output("web")}
    assert replayed.missing_outputs == ("stash",)
    assert replayed.version == len(events)


def test_replaying_part_of_the_events_gives_the_migration_as_it_was_then() -> None:
    migration = retrying()
    events = migration.collect_events()

    aggregate: Any = None
    for domain_event in events[:2]:
        aggregate = domain_event.mutate(aggregate)

    assert aggregate.status == Status.STARTED
    assert aggregate.error is None
    assert migration.status == Status.RETRY


# Ids --------------------------------------------------------------------------


def test_the_same_requester_and_idempotency_key_give_the_same_id() -> None:
    first = request(idempotency_key="key-1")
    second = request(idempotency_key="key-1")

    assert first.id == second.id
    assert first.id == Migration.create_id("key-1", "u-" + "b" * 32)
    assert first.id.version == 5
    assert first.idempotency_key == "key-1"
    assert first.task_id != second.task_id


def test_a_different_key_or_requester_gives_a_different_id() -> None:
    first = request(idempotency_key="key-1")

    assert request(idempotency_key="key-2").id != first.id
    assert request(idempotency_key="key-1", requester_id="u-other").id != first.id


def test_without_an_idempotency_key_each_migration_gets_a_random_id() -> None:
    first = request()
    second = request()

    assert first.id != second.id
    assert first.id.version == 4
    assert first.idempotency_key is None


def test_features_left_out_take_the_seeds_defaults() -> None:
    migration = Migration.request(
        work={"id": "w-1", "name": "n", "sub_name": "s", "owner_id": "u-1"},
        requester_id="u-1",
        features={"web": True},
    )

    assert migration.features == {
        "size_report": None,
        "stash": None,
        "deviant_art": False,
        "web": True,
        "video": None,
        "youtube": None,
    }
