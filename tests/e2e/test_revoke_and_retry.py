"""Revoke and manual retry over HTTP: owner or admin, durable; 409 naming the status if illegal."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from application.migrations import CreateMigration
from application.settings import Settings
from domain.migration import Migration
from interface.http.app import create_app
from interface.runtime import Runtime, build_runtime
from tests.conftest import Person, import_sample, make_person
from tests.e2e.conftest import Api

API = "/api/authoring/migration/"


@pytest.fixture
def idle_runtime(sqlite_settings: Settings) -> Iterator[Runtime]:
    """No executor: migrations stay where the test puts them."""
    runtime = build_runtime(sqlite_settings, with_executor=False)
    runtime.start()
    yield runtime
    runtime.close()


@pytest.fixture
def idle_client(idle_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=idle_runtime)) as client:
        yield client


def _auth(person: Person) -> dict[str, str]:
    return {"Authorization": f"Bearer {person.token}"}


def _pending(runtime: Runtime) -> tuple[Person, str]:
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)
    created = runtime.engine.migrations.create(
        author.caller, CreateMigration(work_id, {"web": True})
    )
    return author, created.detail["id"]


def test_revoking_a_pending_migration_is_durable_and_final(
    idle_runtime: Runtime, idle_client: TestClient
) -> None:
    author, migration_id = _pending(idle_runtime)

    response = idle_client.post(
        f"{API}{migration_id}/revoke/", json={"reason": "wrong cover"}, headers=_auth(author)
    )

    assert response.status_code == 200
    assert response.json()["id"] == migration_id
    status = idle_client.get(f"{API}{migration_id}/status/", headers=_auth(author)).json()
    assert status["status"] == "REVOKED"
    revoked = list(idle_runtime.engine.log.events.get(UUID(hex=migration_id[2:])))[-1]
    assert isinstance(revoked, Migration.Revoked)
    assert (revoked.by, revoked.reason) == (author.caller.user_id, "wrong cover")
    assert idle_runtime.engine.runner.run(migration_id) == "REVOKED"  # a late delivery: no-op

    again = idle_client.post(f"{API}{migration_id}/revoke/", headers=_auth(author))
    assert again.status_code == 409
    assert "REVOKED" in again.json()["detail"]


def test_only_the_owner_or_an_admin_may_revoke(
    idle_runtime: Runtime, idle_client: TestClient
) -> None:
    _, migration_id = _pending(idle_runtime)
    stranger = make_person(idle_runtime, "author")
    reader = make_person(idle_runtime, "reader")
    admin = make_person(idle_runtime, "admin")

    assert idle_client.post(f"{API}{migration_id}/revoke/").status_code == 401
    for person in (stranger, reader):
        response = idle_client.post(f"{API}{migration_id}/revoke/", headers=_auth(person))
        assert response.status_code == 404
    assert idle_client.post(f"{API}{migration_id}/revoke/", headers=_auth(admin)).status_code == 200


def test_a_failed_migration_retried_by_its_owner_runs_again_and_succeeds(
    sqlite_settings: Settings,
) -> None:
    staging = build_runtime(sqlite_settings, with_executor=False)
    author, migration_id = _pending(staging)
    migration: Migration = staging.engine.log.repository.get(UUID(hex=migration_id[2:]))
    migration.start(host="h", pid=1, worker_id="w")
    migration.fail(error="disk full", output="web")
    staging.engine.log.save(migration)
    staging.close()

    live = build_runtime(sqlite_settings)
    live.start()
    try:
        with TestClient(create_app(runtime=live)) as client:
            response = client.post(f"{API}{migration_id}/retry/", headers=_auth(author))

            assert response.status_code == 200, response.text
            assert response.json()["failed"] is False
            assert Api(client).wait_for_success(author, migration_id)["status"] == "SUCCESS"
        names = [type(e).__name__ for e in live.engine.log.events.get(migration.id)]
        assert names[:4] == ["Created", "Started", "Failed", "RetryRequested"]
        assert names[-1] == "Completed"
    finally:
        live.close()


def test_retrying_a_migration_that_did_not_fail_is_a_conflict_naming_its_status(
    idle_runtime: Runtime, idle_client: TestClient
) -> None:
    author, migration_id = _pending(idle_runtime)

    response = idle_client.post(f"{API}{migration_id}/retry/", headers=_auth(author))

    assert response.status_code == 409
    assert response.json()["detail"].endswith("its status is PENDING")
    assert response.json()["current_status"] == "PENDING"


def test_revoke_and_retry_answer_options_and_refuse_bad_bodies(
    idle_runtime: Runtime, idle_client: TestClient
) -> None:
    author, migration_id = _pending(idle_runtime)

    options = idle_client.options(f"{API}{migration_id}/revoke/")
    bad = idle_client.post(
        f"{API}{migration_id}/revoke/", json={"reason": 42}, headers=_auth(author)
    )
    unknown = idle_client.post(f"{API}m-{'0' * 32}/retry/", headers=_auth(author))

    assert options.headers["allow"] == "POST, OPTIONS"
    assert bad.status_code == 400 and "reason" in bad.json()["detail"]
    assert unknown.status_code == 404
