"""E2E fixtures: the HTTP API on a SQLite engine with the in-process executor, and its users."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from application.settings import Settings
from interface.http.app import create_app
from interface.runtime import SAMPLE_WORK, Runtime, build_runtime
from tests.conftest import Person, import_sample, make_person

MIGRATIONS = "/api/authoring/migration/"
WORKS = "/api/authoring/work/"
WAIT_SECONDS = 20.0


def sample_files() -> dict[str, bytes]:
    """The files of examples/sample-work by bundle path (manifest.json, pages/...)."""
    return {
        path.relative_to(SAMPLE_WORK).as_posix(): path.read_bytes()
        for path in sorted(SAMPLE_WORK.rglob("*"))
        if path.is_file()
    }


def zipped(files: Mapping[str, bytes]) -> bytes:
    """A zip archive of `files`, made in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def live_runtime(sqlite_settings: Settings) -> Iterator[Runtime]:
    """A started engine whose migrations run by themselves, as in the server."""
    runtime = build_runtime(sqlite_settings)
    runtime.start()
    yield runtime
    runtime.close()


@pytest.fixture
def client(live_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=live_runtime)) as test_client:
        yield test_client


class Api:
    """What a client of the API does, in a few words per step."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    @staticmethod
    def auth(person: Person) -> dict[str, str]:
        return {"Authorization": f"Bearer {person.token}"}

    def get(self, person: Person, url: str, **params: Any) -> httpx.Response:
        return self.client.get(url, params=params or None, headers=self.auth(person))

    def upload(self, person: Person, bundle: bytes, filename: str = "work.zip") -> httpx.Response:
        return self.client.post(
            WORKS, files={"file": (filename, bundle, "application/zip")}, headers=self.auth(person)
        )

    def create(
        self, person: Person, work_id: str, headers: dict[str, str] | None = None, **body: Any
    ) -> httpx.Response:
        return self.client.post(
            MIGRATIONS,
            json={"work_id": work_id, **body},
            headers={**self.auth(person), **(headers or {})},
        )

    def created(self, person: Person, work_id: str, **body: Any) -> dict[str, Any]:
        """Create a migration that must be accepted; its detail JSON."""
        response = self.create(person, work_id, **body)
        assert response.status_code == 201, response.text
        detail: dict[str, Any] = response.json()
        return detail

    def status(self, person: Person, migration_id: str) -> httpx.Response:
        return self.get(person, f"{MIGRATIONS}{migration_id}/status/")

    def detail(self, person: Person, migration_id: str, **params: Any) -> httpx.Response:
        return self.get(person, f"{MIGRATIONS}{migration_id}/", **params)

    def wait_for_success(self, person: Person, migration_id: str) -> dict[str, Any]:
        """The status view once it says SUCCESS; fails on FAILURE/REVOKED or after a while."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            response = self.status(person, migration_id)
            assert response.status_code == 200, response.text
            status: dict[str, Any] = response.json()
            if status["status"] == "SUCCESS":
                return status
            assert status["status"] not in ("FAILURE", "REVOKED"), status
            assert time.monotonic() < deadline, f"still {status['status']} after {WAIT_SECONDS}s"
            time.sleep(0.05)

    def wait_for_list(self, person: Person, expected: int, **params: Any) -> dict[str, Any]:
        """The list page once its count is `expected` (the read model catches up on its own)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            response = self.get(person, MIGRATIONS, **params)
            assert response.status_code == 200, response.text
            page: dict[str, Any] = response.json()
            if page["count"] == expected:
                return page
            assert time.monotonic() < deadline, f"list count {page['count']} != {expected}"
            time.sleep(0.05)


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)


@pytest.fixture
def author(live_runtime: Runtime) -> Person:
    return make_person(live_runtime, "author")


@pytest.fixture
def other_author(live_runtime: Runtime) -> Person:
    return make_person(live_runtime, "author")


@pytest.fixture
def reader(live_runtime: Runtime) -> Person:
    return make_person(live_runtime, "reader")


@pytest.fixture
def admin(live_runtime: Runtime) -> Person:
    return make_person(live_runtime, "admin")


@pytest.fixture
def work_id(live_runtime: Runtime, author: Person) -> str:
    """The sample work, owned by `author`."""
    return import_sample(live_runtime, author)


@pytest.fixture
def other_work_id(live_runtime: Runtime, other_author: Person) -> str:
    """The sample work again, owned by `other_author`."""
    return import_sample(live_runtime, other_author)
