"""Shared fixtures: an engine on each store (memory, SQLite, PostgreSQL), users, a sample work."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from application.settings import Settings
from application.users import Caller
from interface.runtime import SAMPLE_WORK, Runtime, build_runtime
from interface.storage.work_bundles import read_bundle

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_available() -> str | None:
    """None when the local PostgreSQL answers, else why not."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except psycopg.Error as problem:
        return str(problem).strip().splitlines()[0]


def require_postgres() -> None:
    reason = _postgres_available()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"PostgreSQL is required in CI and is not reachable: {reason}")
    pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {reason}")


@contextmanager
def fresh_postgres_schema() -> Iterator[str]:
    """A new schema in the local test database, dropped afterwards."""
    import psycopg

    require_postgres()
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    with fresh_postgres_schema() as name:
        yield name


def store_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "memory":
        return f"memory://{uuid.uuid4().hex}"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/engine.db"
    schema = request.getfixturevalue("postgres_schema")
    return f"{POSTGRES_URL}?schema={schema}"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for an engine on each store in turn."""
    return Settings(
        database_url=store_url(request.param, tmp_path, request),
        data_dir=tmp_path / "data",
        workers=2,
        projection_poll_interval=0.05,
    )


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path}/engine.db",
        data_dir=tmp_path / "data",
        workers=2,
        projection_poll_interval=0.05,
    )


@dataclass
class Person:
    caller: Caller
    email: str
    password: str
    token: str


def make_person(runtime: Runtime, role: str, email: str | None = None) -> Person:
    email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    password = "correct horse battery"
    user = runtime.engine.users.register(email, role, password)
    token = runtime.engine.users.issue_token(user.id)
    return Person(Caller(user.id, user.role), email, password, token)


def import_sample(runtime: Runtime, owner: Person) -> str:
    manifest, files = read_bundle(SAMPLE_WORK)
    return runtime.engine.works.register(owner.caller, manifest, files).id


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """An engine without an executor: tests drive the runner themselves."""
    built = build_runtime(settings, with_executor=False)
    yield built
    built.close()
