"""The application's use cases, run on each store: memory, SQLite and the local PostgreSQL."""

from __future__ import annotations

import threading
from uuid import UUID

import pytest

from application.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from application.migrations import CreateMigration
from application.read_models.migration_list import ListQuery
from domain.migration import Migration
from interface.runtime import Runtime
from tests.conftest import import_sample, make_person

WEB_AND_REPORT = {"web": True, "size_report": True}


def test_an_author_deploys_a_work_and_it_succeeds(runtime: Runtime) -> None:
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)

    created = runtime.engine.migrations.create(
        author.caller, CreateMigration(work_id=work_id, features=WEB_AND_REPORT)
    )
    migration_id = created.detail["id"]
    assert created.created
    assert runtime.engine.migrations.status(author.caller, migration_id)["status"] == "PENDING"

    assert runtime.engine.runner.run(migration_id) == "SUCCESS"

    status = runtime.engine.migrations.status(author.caller, migration_id)
    assert status["status"] == "SUCCESS"
    assert status["result"] is True
    assert status["host"] == runtime.engine.runner.identity.host
    assert status["pid"] == runtime.engine.runner.identity.pid
    assert status["id"] == created.detail["task_id"]
    detail = runtime.engine.migrations.detail(author.caller, migration_id)
    assert detail["complete"] and not detail["failed"]
    web, report = detail["outputs"]["web"], detail["outputs"]["size_report"]
    assert web is not None and web["url"].endswith("/web/index.html")
    assert report is not None and report["bytes"] > 0
    assert detail["web_script"] is not None and detail["web_script"].endswith("script.json")
    assert runtime.artifacts.path_for(web["url"].removeprefix("/outputs/")).exists()


def test_the_new_migration_is_in_its_creators_list_at_once(runtime: Runtime) -> None:
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)

    created = runtime.engine.migrations.create(
        author.caller, CreateMigration(work_id=work_id, features={"web": True})
    )

    page = runtime.engine.migrations.page(author.caller, ListQuery())
    assert page.count == 1
    assert created.detail["id"] in page.details[0]


def test_the_list_follows_the_migration_through_its_life(runtime: Runtime) -> None:
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)
    ids = [
        runtime.engine.migrations.create(
            author.caller, CreateMigration(work_id=work_id, features={"size_report": True})
        ).detail["id"]
        for _ in range(3)
    ]
    runtime.engine.runner.run(ids[0])
    runtime.engine.list_projection.catch_up()

    migrations = runtime.engine.migrations
    assert migrations.page(author.caller, ListQuery(status="SUCCESS")).count == 1
    assert migrations.page(author.caller, ListQuery(status="PENDING")).count == 2
    newest_first = migrations.page(author.caller, ListQuery(limit=2))
    assert newest_first.count == 3
    assert [ids[2] in newest_first.details[0], ids[1] in newest_first.details[1]] == [True, True]
    assert migrations.page(author.caller, ListQuery(offset=2)).details[0].count(ids[0]) >= 1
    assert migrations.page(author.caller, ListQuery(work_id="w-" + "0" * 32)).count == 0


def test_an_idempotency_key_makes_create_safe_to_retry(runtime: Runtime) -> None:
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)
    request = CreateMigration(work_id=work_id, features={"web": True})

    first = runtime.engine.migrations.create(author.caller, request, idempotency_key="k-1")
    again = runtime.engine.migrations.create(author.caller, request, idempotency_key="k-1")

    assert first.created and not again.created
    assert again.detail["id"] == first.detail["id"]
    with pytest.raises(ConflictError):
        runtime.engine.migrations.create(
            author.caller,
            CreateMigration(work_id=work_id, features={"size_report": True}),
            idempotency_key="k-1",
        )
    assert runtime.engine.migrations.page(author.caller, ListQuery()).count == 1


def test_migrations_of_other_authors_works_do_not_exist_for_you(runtime: Runtime) -> None:
    owner = make_person(runtime, "author")
    stranger = make_person(runtime, "author")
    admin = make_person(runtime, "admin")
    reader = make_person(runtime, "reader")
    work_id = import_sample(runtime, owner)
    migration_id = runtime.engine.migrations.create(
        owner.caller, CreateMigration(work_id=work_id, features={"web": True})
    ).detail["id"]

    with pytest.raises(NotFoundError):
        runtime.engine.migrations.detail(stranger.caller, migration_id)
    with pytest.raises(NotFoundError):
        runtime.engine.migrations.status(stranger.caller, migration_id)
    assert runtime.engine.migrations.page(stranger.caller, ListQuery()).count == 0
    with pytest.raises(InvalidInputError, match="work_id"):
        runtime.engine.migrations.create(stranger.caller, CreateMigration(work_id=work_id))
    with pytest.raises(PermissionDeniedError, match="Must be an author user"):
        runtime.engine.migrations.create(reader.caller, CreateMigration(work_id=work_id))
    assert runtime.engine.migrations.detail(admin.caller, migration_id)["id"] == migration_id
    assert runtime.engine.migrations.page(admin.caller, ListQuery()).count == 1


def test_unknown_features_and_outputs_without_producer_are_refused(runtime: Runtime) -> None:
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)

    with pytest.raises(InvalidInputError, match=r"unknown feature.*bogus"):
        runtime.engine.migrations.create(
            author.caller, CreateMigration(work_id=work_id, features={"bogus": True})
        )
    with pytest.raises(InvalidInputError, match="video"):
        runtime.engine.migrations.create(
            author.caller, CreateMigration(work_id=work_id, features={"video": True})
        )


def test_a_past_version_shows_the_migration_as_it_was(runtime: Runtime) -> None:
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)
    migration_id = runtime.engine.migrations.create(
        author.caller, CreateMigration(work_id=work_id, features={"size_report": True})
    ).detail["id"]
    runtime.engine.runner.run(migration_id)

    as_created = runtime.engine.migrations.detail(author.caller, migration_id, version=1)
    now = runtime.engine.migrations.detail(author.caller, migration_id)

    assert as_created["complete"] is False and as_created["outputs"]["size_report"] is None
    assert now["complete"] is True
    with pytest.raises(NotFoundError, match="version 99"):
        runtime.engine.migrations.detail(author.caller, migration_id, version=99)


def test_two_workers_racing_start_a_migration_once(runtime: Runtime) -> None:
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)
    migration_id = runtime.engine.migrations.create(
        author.caller, CreateMigration(work_id=work_id, features={"size_report": True})
    ).detail["id"]
    results: list[str] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait()
        results.append(runtime.engine.runner.run(migration_id))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    migration: Migration = runtime.engine.log.repository.get(UUID(hex=migration_id[2:]))
    assert migration.status == "SUCCESS"
    started = [
        e for e in runtime.engine.log.events.get(migration.id) if type(e).__name__ == "Started"
    ]
    assert len(started) == 1
    assert results.count("SUCCESS") >= 1
