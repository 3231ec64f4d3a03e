"""Read-model operations: status and lag, rebuild into a new generation while readers keep
reading, drift checks, and the per-work summary (on memory, SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from uuid import UUID

import pytest

from application.errors import InvalidInputError
from application.migrations import CreateMigration
from application.read_models.migration_list import ListQuery
from application.users import Caller
from domain.migration import Migration
from interface.runtime import Runtime
from tests.conftest import import_sample, make_person


def _deploy(runtime: Runtime, count: int) -> tuple[Caller, str, list[str]]:
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)
    ids = [
        runtime.engine.migrations.create(
            author.caller, CreateMigration(work_id, {"web": True, "size_report": True})
        ).detail["id"]
        for _ in range(count)
    ]
    for migration_id in ids[: count - 1]:
        runtime.engine.runner.run(migration_id)
    runtime.engine.read_models.catch_up()
    return author.caller, work_id, ids


def test_status_shows_each_read_model_against_the_log(runtime: Runtime) -> None:
    _deploy(runtime, 2)
    head = runtime.engine.log.recorder.max_notification_id()

    states = {state.name: state for state in runtime.engine.read_models.status()}

    assert set(states) == {"migration_list", "work_summary"}
    for state in states.values():
        assert state.head == head and state.generation == 1
        assert 0 < state.position <= head and state.lag == head - state.position


def test_a_rebuild_switches_readers_to_a_new_generation_with_the_same_rows(
    runtime: Runtime,
) -> None:
    _, work_id, ids = _deploy(runtime, 4)
    admin = make_person(runtime, "admin").caller
    before = runtime.engine.migrations.page(admin, ListQuery(limit=100))
    summary_before = runtime.engine.work_summary.summary(work_id)

    rebuilt = runtime.engine.read_models.rebuild()

    assert {r.name: r.generation for r in rebuilt} == {"migration_list": 2, "work_summary": 2}
    assert all(r.events > 0 for r in rebuilt)
    assert runtime.engine.migrations.page(admin, ListQuery(limit=100)) == before
    assert runtime.engine.work_summary.summary(work_id) == summary_before
    assert {s.generation for s in runtime.engine.read_models.status()} == {2}
    # The rebuilt model keeps following the log.
    runtime.engine.runner.run(ids[-1])
    runtime.engine.read_models.catch_up()
    assert runtime.engine.migrations.page(admin, ListQuery(status="SUCCESS")).count == 4
    assert runtime.engine.read_models.verify() == {"migration_list": [], "work_summary": []}


def test_readers_keep_answering_while_a_rebuild_runs(runtime: Runtime) -> None:
    caller, _, ids = _deploy(runtime, 6)
    answers: list[int] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            answers.append(runtime.engine.migrations.page(caller, ListQuery()).count)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        runtime.engine.read_models.rebuild("migration_list")
    finally:
        done.set()
        reader.join()

    assert answers and set(answers) == {len(ids)}


def test_verify_finds_a_row_that_drifted_from_the_log(runtime: Runtime) -> None:
    _, _, ids = _deploy(runtime, 3)
    view = runtime.engine.list_projection.view
    victim = ids[0]
    with view.cursor(commit=True) as c:
        c.execute(
            f"UPDATE {view.table('migration_list')} SET detail = {view.mark} "
            f"WHERE id = {view.mark}",
            ('{"id": "forged"}', victim),
        )

    found = runtime.engine.read_models.verify("migration_list")

    assert [d.key for d in found["migration_list"]] == [victim]
    assert runtime.engine.read_models.verify("migration_list", sample=1)["migration_list"] in (
        [],
        found["migration_list"],
    )
    runtime.engine.read_models.rebuild("migration_list")
    assert runtime.engine.read_models.verify("migration_list") == {"migration_list": []}


def test_an_unknown_read_model_is_refused_by_name(runtime: Runtime) -> None:
    with pytest.raises(InvalidInputError, match="no read model 'nope'"):
        runtime.engine.read_models.rebuild("nope")


def test_the_work_summary_counts_by_status_and_keeps_the_last_success(runtime: Runtime) -> None:
    caller, work_id, ids = _deploy(runtime, 3)
    migration: Migration = runtime.engine.log.repository.get(UUID(hex=ids[-1][2:]))
    runtime.engine.migrations.revoke(caller, migration.public_id)
    runtime.engine.read_models.catch_up()

    summary = runtime.engine.work_summary.summary(work_id)

    assert summary is not None
    assert summary["migrations"] == 3
    assert summary["by_status"]["SUCCESS"] == 2 and summary["by_status"]["REVOKED"] == 1
    assert sum(summary["by_status"].values()) == 3
    last = summary["last_success"]
    assert last is not None and last["id"] == ids[1]
    assert set(last["outputs"]) == {"web", "size_report"}
    produced = runtime.engine.migrations.detail(caller, ids[0])["outputs"]
    per_migration = sum(v["bytes"] for v in produced.values() if v is not None)
    assert summary["output_bytes"] == 2 * per_migration
    assert runtime.engine.read_models.verify("work_summary") == {"work_summary": []}


def test_a_work_summary_missing_a_migration_record_heals_from_the_log(runtime: Runtime) -> None:
    _, work_id, ids = _deploy(runtime, 2)
    pending = ids[-1]
    view = runtime.engine.work_summary.view
    with view.cursor(commit=True) as c:
        c.execute(
            f"DELETE FROM {view.table('work_summary')} WHERE key = {view.mark}",
            (f"m:{pending[2:]}",),
        )

    runtime.engine.runner.run(pending)
    runtime.engine.read_models.catch_up()

    summary = runtime.engine.work_summary.summary(work_id)
    assert summary is not None and summary["last_success"] is not None
    assert summary["last_success"]["id"] == pending
    assert runtime.engine.work_summary.position == runtime.engine.list_projection.position
