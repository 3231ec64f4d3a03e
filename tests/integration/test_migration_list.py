"""The list read model: each event applied once, in order, and rows equal a re-fold of the log."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from application.migration_views import detail_of
from application.migrations import CreateMigration
from application.read_models.migration_list import ListQuery, MigrationListProjection
from application.read_models.migration_list_stores import construct_list_view
from application.settings import Settings
from interface.runtime import Runtime, build_runtime
from tests.conftest import fresh_postgres_schema, import_sample, make_person


def _seed(runtime: Runtime, count: int) -> list[str]:
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)
    ids = []
    for index in range(count):
        features = {"size_report": True} if index % 2 else {"web": True}
        created = runtime.engine.migrations.create(
            author.caller, CreateMigration(work_id, features)
        )
        ids.append(created.detail["id"])
    for migration_id in ids[::3]:
        runtime.engine.runner.run(migration_id)
    runtime.engine.list_projection.catch_up()
    return ids


def test_every_row_equals_the_detail_of_the_refolded_aggregate(runtime: Runtime) -> None:
    ids = _seed(runtime, 7)
    admin = make_person(runtime, "admin")

    page = runtime.engine.migrations.page(admin.caller, ListQuery(limit=100))

    assert page.count == len(ids)
    rows = {json.loads(detail)["id"]: json.loads(detail) for detail in page.details}
    for migration_id in ids:
        aggregate = runtime.engine.log.repository.get(UUID(hex=migration_id[2:]))
        assert rows[migration_id] == detail_of(aggregate)


def test_a_position_is_applied_once(runtime: Runtime) -> None:
    _seed(runtime, 2)
    view = runtime.engine.list_projection.view
    position = runtime.engine.list_projection.position

    with pytest.raises(IntegrityError):
        view.save_rows([], {}, Tracking(view.tracking_name, position))
    assert runtime.engine.list_projection.catch_up() == 0


def test_a_fresh_view_caught_up_from_zero_has_the_same_rows(
    runtime: Runtime, settings: Settings
) -> None:
    ids = _seed(runtime, 5)
    admin = make_person(runtime, "admin")
    before = runtime.engine.migrations.page(admin.caller, ListQuery(limit=100))

    # Another projection into a new, empty view store: a rebuild from the log.
    env = settings.read_model_env()
    with ExitStack() as stack:
        if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
            env["SQLITE_DBNAME"] = env["SQLITE_DBNAME"].replace("-views", "-views2")
        else:
            env["POSTGRES_SCHEMA"] = stack.enter_context(fresh_postgres_schema())
        view = construct_list_view(env)
        stack.callback(view.close)
        rebuilt = MigrationListProjection(runtime.engine.log, view, batch_size=3)

        assert rebuilt.position == 0
        assert rebuilt.catch_up() > len(ids)

        assert rebuilt.position == runtime.engine.list_projection.position
        after = rebuilt.view.page(ListQuery(limit=100))
        assert after == before
        assert len(after.details) == len(ids)


def test_the_poller_picks_up_what_another_process_wrote(sqlite_settings: Settings) -> None:
    serving = build_runtime(sqlite_settings, with_executor=False)
    other = build_runtime(sqlite_settings, with_executor=False)
    try:
        serving.start()
        author = make_person(other, "author")
        work_id = import_sample(other, author)
        other.engine.migrations.create(author.caller, CreateMigration(work_id, {"web": True}))

        deadline = time.monotonic() + 10
        while serving.engine.migrations.page(author.caller, ListQuery()).count == 0:
            assert time.monotonic() < deadline, "the poller never applied the other's event"
            time.sleep(0.02)
    finally:
        other.close()
        serving.close()


def test_a_row_missing_its_earlier_events_is_healed_from_the_log(runtime: Runtime) -> None:
    ids = _seed(runtime, 2)
    victim = ids[1]  # still PENDING: its next events come after the row is lost
    view = runtime.engine.list_projection.view
    with view.cursor(commit=True) as c:
        c.execute(f"DELETE FROM {view.table('migration_list')} WHERE id = {view.mark}", (victim,))

    runtime.engine.runner.run(victim)
    runtime.engine.list_projection.catch_up()

    aggregate = runtime.engine.log.repository.get(UUID(hex=victim[2:]))
    stored = json.loads(view.details([victim])[victim])
    assert stored == detail_of(aggregate) and stored["complete"] is True


def test_page_counts_come_from_the_tallies_and_match_the_rows(runtime: Runtime) -> None:
    ids = _seed(runtime, 6)
    admin = make_person(runtime, "admin")
    other = make_person(runtime, "author")
    other_work = import_sample(runtime, other)
    runtime.engine.migrations.create(other.caller, CreateMigration(other_work, {"web": True}))
    runtime.engine.list_projection.catch_up()
    page = runtime.engine.migrations.page
    first = json.loads(page(admin.caller, ListQuery(limit=100)).details[-1])

    for query in (
        ListQuery(),
        ListQuery(status="SUCCESS"),
        ListQuery(status="PENDING"),
        ListQuery(work_id=first["work_id"]),
        ListQuery(work_id=first["work_id"], status="SUCCESS"),
        ListQuery(work_id=other_work),
    ):
        counted = page(admin.caller, query)
        listed = page(admin.caller, ListQuery(**{**query.__dict__, "limit": 1000}))
        assert counted.count == len(listed.details)
    assert page(admin.caller, ListQuery()).count == len(ids) + 1
    assert page(other.caller, ListQuery()).count == 1
