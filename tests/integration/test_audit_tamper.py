"""Tampering with the SQLite files behind the engine's back: `audit verify` names what changed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest
from typer.testing import CliRunner

from application.audit import VerifyReport
from application.migrations import CreateMigration
from application.settings import Settings
from interface.cli.main import app
from interface.runtime import build_runtime
from tests.conftest import import_sample, make_person


@dataclass(frozen=True)
class Store:
    """A closed SQLite store holding two finished migrations."""

    settings: Settings
    events_file: Path
    views_file: Path
    deployed: str
    other: str

    @property
    def env(self) -> dict[str, str]:
        return {
            "MIGRATION_ENGINE_DATABASE_URL": self.settings.database_url,
            "MIGRATION_ENGINE_DATA_DIR": str(self.settings.data_dir),
        }


@pytest.fixture
def store(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Store]:
    runtime = build_runtime(sqlite_settings, with_executor=False)
    try:
        author = make_person(runtime, "author")
        work_id = import_sample(runtime, author)
        ids = [
            runtime.engine.migrations.create(
                author.caller, CreateMigration(work_id, {"size_report": True})
            ).detail["id"]
            for _ in range(2)
        ]
        for migration_id in ids:
            assert runtime.engine.runner.run(migration_id) == "SUCCESS"
        runtime.engine.list_projection.catch_up()
    finally:
        runtime.close()
    yield Store(
        settings=sqlite_settings,
        events_file=tmp_path / "engine.db",
        views_file=tmp_path / "engine-views.db",
        deployed=ids[0],
        other=ids[1],
    )


def verify(store: Store) -> VerifyReport:
    runtime = build_runtime(store.settings, with_executor=False)
    try:
        return runtime.engine.audit.verify()
    finally:
        runtime.close()


def originator_column(connection: sqlite3.Connection, migration_id: str) -> str | bytes:
    """The migration's id as the events table stores it (hex text or UUID bytes)."""
    uuid = UUID(hex=migration_id[2:])
    for candidate in (uuid.hex, str(uuid), uuid.bytes):
        found = connection.execute(
            "SELECT COUNT(*) FROM stored_events WHERE originator_id = ?", (candidate,)
        ).fetchone()[0]
        if found:
            return candidate
    raise AssertionError(f"no stored events for {migration_id}")


def edit_output_bytes(store: Store, migration_id: str) -> int:
    """Change the size of the output recorded by the migration; returns that event's version."""
    with closing(sqlite3.connect(store.events_file)) as connection, connection:
        originator = originator_column(connection, migration_id)
        version, state = connection.execute(
            "SELECT originator_version, state FROM stored_events "
            "WHERE originator_id = ? AND topic = 'migration.output_produced'",
            (originator,),
        ).fetchone()
        data = json.loads(state)
        data["value"]["bytes"] += 1
        connection.execute(
            "UPDATE stored_events SET state = ? WHERE originator_id = ? AND originator_version = ?",
            (json.dumps(data, separators=(",", ":")).encode(), originator, version),
        )
    return int(version)


def edit_list_row(store: Store, migration_id: str) -> None:
    """Make the list read model say the migration failed."""
    with closing(sqlite3.connect(store.views_file)) as connection, connection:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master "
                "WHERE type = 'table' AND name LIKE 'migration_list%' "
                "AND name NOT LIKE '%tallies%'"
            )
        ]
        assert tables, "no migration_list table in the views file"
        edited = 0
        for table in tables:
            for (detail,) in connection.execute(
                f"SELECT detail FROM {table} WHERE id = ?", (migration_id,)
            ).fetchall():
                row = json.loads(detail)
                row["failed"], row["complete"] = True, False
                edited += connection.execute(
                    f"UPDATE {table} SET detail = ? WHERE id = ?",
                    (json.dumps(row, separators=(",", ":")), migration_id),
                ).rowcount
        assert edited, f"no list row for {migration_id}"


def test_an_untouched_store_verifies_clean(store: Store) -> None:
    report = verify(store)
    result = CliRunner().invoke(app, ["audit", "verify"], env=store.env)

    assert report.clean
    assert (report.migrations, report.events) == (2, 8)
    assert result.exit_code == 0, result.output
    assert "2 migrations, 8 events" in result.stdout
    assert "ok" in result.stdout


def test_an_edited_event_breaks_the_chain_at_that_migration_and_version(store: Store) -> None:
    version = edit_output_bytes(store, store.deployed)

    report = verify(store)

    assert not report.clean
    assert report.broken_chain == [(store.deployed, version, "migration.output_produced")]
    assert report.illegal == []
    assert all(migration_id == store.deployed for migration_id, _ in report.drift)


def test_the_cli_names_the_edited_event_and_exits_1(store: Store) -> None:
    version = edit_output_bytes(store, store.deployed)

    result = CliRunner().invoke(app, ["audit", "verify"], env=store.env)

    assert result.exit_code == 1, result.output
    assert f"chain broken {store.deployed} version {version}" in result.stdout
    assert store.other not in result.stdout
    assert "Traceback" not in result.output


def test_an_edited_list_row_is_reported_as_drift(store: Store) -> None:
    edit_list_row(store, store.other)

    report = verify(store)
    result = CliRunner().invoke(app, ["audit", "verify"], env=store.env)

    assert not report.clean
    assert [migration_id for migration_id, _ in report.drift] == [store.other]
    assert report.broken_chain == [] and report.illegal == []
    assert result.exit_code == 1, result.output
    assert f"drift {store.other}" in result.stdout
    assert store.deployed not in result.stdout
