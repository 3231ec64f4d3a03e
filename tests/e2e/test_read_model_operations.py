"""Operators' view of the read models: the CLI (status, rebuild, verify), the per-work summary
endpoint, and a projector process following PostgreSQL's notifications for the API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from application.migrations import CreateMigration
from application.read_models.migration_list import ListQuery
from application.settings import Settings
from interface.cli.main import app
from interface.runtime import Runtime, build_runtime
from tests.conftest import POSTGRES_URL, Person, fresh_postgres_schema, import_sample, make_person
from tests.e2e.conftest import Api


def test_the_cli_reports_rebuilds_and_verifies_the_read_models(tmp_path: Path) -> None:
    env = {
        "MIGRATION_ENGINE_DATABASE_URL": f"sqlite:///{tmp_path}/engine.db",
        "MIGRATION_ENGINE_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "200",
    }
    runtime = build_runtime(
        Settings(database_url=env["MIGRATION_ENGINE_DATABASE_URL"], data_dir=tmp_path / "data"),
        with_executor=False,
    )
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)
    for _ in range(3):
        created = runtime.engine.migrations.create(author.caller, CreateMigration(work_id, {}))
        runtime.engine.runner.run(created.detail["id"])
    runtime.close()

    status = CliRunner().invoke(app, ["read-models", "status"], env=env)
    rebuilt = CliRunner().invoke(app, ["read-models", "rebuild"], env=env)
    verified = CliRunner().invoke(app, ["read-models", "verify", "--sample", "2"], env=env)
    unknown = CliRunner().invoke(app, ["read-models", "rebuild", "nope"], env=env)
    after = CliRunner().invoke(app, ["read-models", "status"], env=env)

    assert status.exit_code == 0 and "migration_list" in status.output
    assert rebuilt.exit_code == 0, rebuilt.output
    assert re.search(r"migration_list: generation 2, \d+ events in .* events/s", rebuilt.output)
    assert "work_summary: generation 2" in rebuilt.output
    assert verified.exit_code == 0 and "migration_list: 0 drifted" in verified.output
    assert unknown.exit_code == 1 and "no read model 'nope'" in unknown.output
    assert re.search(r"migration_list\s+│\s+2\s+│", after.output)


def test_a_work_summary_is_served_to_its_owner(
    live_runtime: Runtime, client: TestClient, api: Api, author: Person, work_id: str
) -> None:
    migration = api.created(author, work_id, features={"web": True})
    api.wait_for_success(author, migration["id"])
    live_runtime.engine.read_models.catch_up()
    stranger = make_person(live_runtime, "author")

    summary = api.get(author, f"/api/authoring/work/{work_id}/summary/")
    hidden = api.get(stranger, f"/api/authoring/work/{work_id}/summary/")

    assert summary.status_code == 200
    body = summary.json()
    assert body["migrations"] == 1 and body["by_status"]["SUCCESS"] == 1
    assert body["last_success"]["id"] == migration["id"]
    assert body["output_bytes"] == body["last_success"]["outputs"]["web"]["bytes"]
    assert body["resource_uri"] == f"/api/authoring/work/{work_id}/summary/"
    assert hidden.status_code == 404


def test_a_projector_process_keeps_the_api_current_over_listen_notify(tmp_path: Path) -> None:
    with fresh_postgres_schema() as schema:
        url = f"{POSTGRES_URL}?schema={schema}"
        settings = Settings(database_url=url, data_dir=tmp_path / "data", projections="external")
        api_side = build_runtime(settings, with_executor=False)
        api_side.start()  # external: the API folds nothing itself
        env = {
            **os.environ,
            "MIGRATION_ENGINE_DATABASE_URL": url,
            "MIGRATION_ENGINE_DATA_DIR": str(tmp_path / "data"),
        }
        command = [str(Path(sys.executable).parent / "migration-engine"), "projector"]
        log = (tmp_path / "projector.log").open("wb")
        projector = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        try:
            author = make_person(api_side, "author")
            work_id = import_sample(api_side, author)
            deadline = time.monotonic() + 30
            while "following the log" not in (tmp_path / "projector.log").read_text():
                assert time.monotonic() < deadline, "the projector did not start"
                time.sleep(0.05)
            started = time.monotonic()
            created = api_side.engine.migrations.create(
                author.caller, CreateMigration(work_id, {"web": True})
            )
            elapsed = time.monotonic() - started

            page = api_side.engine.migrations.page(author.caller, ListQuery())
            assert page.count == 1 and created.detail["id"] in page.details[0]
            assert elapsed < settings.read_your_writes_timeout  # the projector answered
            assert api_side.engine.list_projection.inline is False
        finally:
            projector.terminate()
            projector.wait(timeout=20)
            log.close()
            api_side.close()


def test_metrics_expose_the_log_the_read_models_and_the_statuses(
    live_runtime: Runtime, client: TestClient, api: Api, author: Person, work_id: str
) -> None:
    migration = api.created(author, work_id, features={"web": True})
    api.wait_for_success(author, migration["id"])
    live_runtime.engine.read_models.catch_up()

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    head = live_runtime.engine.log.recorder.max_notification_id()
    assert f"migration_engine_log_head {head}" in text
    assert 'migration_engine_read_model_lag{read_model="migration_list"} 0' in text
    assert 'migration_engine_migrations{status="SUCCESS"} 1' in text
    assert 'migration_engine_migrations{status="FAILURE"} 0' in text
