"""The CLI: create users (id and token printed) and import works, against the same store."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from application.settings import Settings
from interface.cli.main import app
from interface.runtime import SAMPLE_WORK, build_runtime


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "MIGRATION_ENGINE_DATABASE_URL": f"sqlite:///{tmp_path}/engine.db",
        "MIGRATION_ENGINE_DATA_DIR": str(tmp_path / "data"),
    }


def _settings(env: dict[str, str]) -> Settings:
    return Settings(
        database_url=env["MIGRATION_ENGINE_DATABASE_URL"],
        data_dir=Path(env["MIGRATION_ENGINE_DATA_DIR"]),
    )


def test_users_create_prints_an_id_and_a_working_token(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        app,
        ["users", "create", "Ann@Example.com", "--role", "author", "--password", "s3cret-pw"],
        env=env,
    )

    assert result.exit_code == 0, result.output
    user_id = re.search(r"user id: (u-[0-9a-f]{32})", result.output)
    token = re.search(r"token:\s+(\S+)", result.output)
    assert user_id and token
    runtime = build_runtime(_settings(env), with_executor=False)
    try:
        caller = runtime.engine.users.authenticate(token.group(1))
        assert caller.user_id == user_id.group(1) and caller.role == "author"
        assert (
            runtime.engine.users.sign_in("ann@example.com", "s3cret-pw").user.id == caller.user_id
        )
    finally:
        runtime.close()


def test_users_create_generates_a_password_when_none_is_given(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["users", "create", "bo@example.com"], env=env)

    assert result.exit_code == 0, result.output
    password = re.search(r"password: (\S+)", result.output)
    assert password is not None
    runtime = build_runtime(_settings(env), with_executor=False)
    try:
        assert (
            runtime.engine.users.sign_in("bo@example.com", password.group(1)).user.role == "author"
        )
    finally:
        runtime.close()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["users", "create", "not-an-email"], "email"),
        (["users", "create", "x@example.com", "--role", "king"], "role"),
        (["users", "create", "y@example.com", "--password", "short"], "password"),
    ],
)
def test_users_create_refuses_bad_input_clearly(
    env: dict[str, str], arguments: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, arguments, env=env)

    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_second_user_with_the_same_email_is_refused(env: dict[str, str]) -> None:
    CliRunner().invoke(app, ["users", "create", "dup@example.com"], env=env)
    result = CliRunner().invoke(app, ["users", "create", "DUP@example.com"], env=env)

    assert result.exit_code == 1
    assert "already exists" in result.output


def test_works_import_registers_a_folder_or_a_zip(env: dict[str, str], tmp_path: Path) -> None:
    CliRunner().invoke(app, ["users", "create", "author@example.com"], env=env)
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        for path in SAMPLE_WORK.rglob("*"):
            if path.is_file():
                archive.write(path, path.relative_to(SAMPLE_WORK).as_posix())

    from_folder = CliRunner().invoke(
        app, ["works", "import", str(SAMPLE_WORK), "--owner", "author@example.com"], env=env
    )
    from_zip = CliRunner().invoke(
        app, ["works", "import", str(bundle), "--owner", "author@example.com"], env=env
    )

    for result in (from_folder, from_zip):
        assert result.exit_code == 0, result.output
        assert "The Lighthouse" in result.output
        work_id = re.search(r"work id: (w-[0-9a-f]{32})", result.output)
        assert work_id is not None
        assert (Path(env["MIGRATION_ENGINE_DATA_DIR"]) / "works" / work_id.group(1)).is_dir()


def test_works_import_names_the_problem_with_a_bad_bundle(
    env: dict[str, str], tmp_path: Path
) -> None:
    CliRunner().invoke(app, ["users", "create", "author@example.com"], env=env)
    broken = tmp_path / "broken.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", '{"name": "x", "sub_name": "y", "pages": ["p1.png"]}')
    broken.write_bytes(buffer.getvalue())

    result = CliRunner().invoke(
        app, ["works", "import", str(broken), "--owner", "author@example.com"], env=env
    )
    unknown_owner = CliRunner().invoke(
        app, ["works", "import", str(SAMPLE_WORK), "--owner", "nobody@example.com"], env=env
    )

    assert result.exit_code == 1 and "p1.png" in result.output
    assert unknown_owner.exit_code == 1 and "nobody@example.com" in unknown_owner.output


def test_an_operator_revokes_and_retries_from_the_cli(env: dict[str, str]) -> None:
    from uuid import UUID

    from application.migrations import CreateMigration
    from domain.migration import Migration
    from tests.conftest import import_sample, make_person

    runtime = build_runtime(_settings(env), with_executor=False)
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)
    pending, failing = (
        runtime.engine.migrations.create(
            author.caller, CreateMigration(work_id, {"web": True})
        ).detail["id"]
        for _ in range(2)
    )
    migration: Migration = runtime.engine.log.repository.get(UUID(hex=failing[2:]))
    migration.start(host="h", pid=1, worker_id="w")
    migration.fail(error="disk full")
    runtime.engine.log.save(migration)
    runtime.close()

    revoked = CliRunner().invoke(
        app, ["migrations", "revoke", pending, "--reason", "duplicate"], env=env
    )
    again = CliRunner().invoke(app, ["migrations", "revoke", pending], env=env)
    retried = CliRunner().invoke(app, ["migrations", "retry", failing], env=env)
    status = CliRunner().invoke(app, ["migrations", "status", failing], env=env)
    unknown = CliRunner().invoke(app, ["migrations", "status", "m-nope"], env=env)

    assert revoked.exit_code == 0 and "REVOKED" in revoked.output
    assert again.exit_code == 1 and "its status is REVOKED" in again.output
    assert retried.exit_code == 0 and "PENDING" in retried.output
    assert status.exit_code == 0 and '"status": "PENDING"' in status.output
    assert unknown.exit_code == 1 and "m-nope" in unknown.output
