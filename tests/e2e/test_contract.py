"""The seed is the contract: our JSON has the seed's keys and value types, example by example."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from application.settings import Settings
from interface.http.app import create_app
from interface.runtime import build_runtime
from tests.conftest import Person, import_sample, make_person
from tests.e2e.conftest import MIGRATIONS, Api

SEED = Path(__file__).resolve().parents[2] / "docs" / "seed" / "migrations-api.md"

MIGRATION_ID = re.compile(r"^m-[0-9a-f]{32}$")
WORK_ID = re.compile(r"^w-[0-9a-f]{32}$")
USER_ID = re.compile(r"^u-[0-9a-f]{32}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

# Where the seed shows null, the JSON type ours takes once there is a value (DESIGN §3).
WHEN_SEED_IS_NULL = {
    "master_project_id": "string",
    "project_id": "string",
    "task_id": "string",
    "web_script": "string",
    "features.*": "boolean",
    "outputs.*": "object",
    "requester.id": "string",
}
# Where the seed shows a value but DESIGN §3 says null: features not requested.
DETAIL_MAY_BE_NULL = frozenset({"features.*"})
# ...and a status before any worker started the migration.
PENDING_STATUS_MAY_BE_NULL = frozenset({"host", "pid", "result"})


@dataclass(frozen=True)
class Section:
    """One endpoint of the seed: its heading, JSON example, allowed methods and description."""

    name: str
    example: dict[str, Any]
    allowed: str
    description: str


def seed_sections() -> dict[str, Section]:
    sections = {}
    for chunk in re.split(r"^## ", SEED.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]:
        name = chunk.splitlines()[0].strip()
        example = re.search(r"```json\n(.*?)```", chunk, flags=re.DOTALL)
        allowed = re.search(r"^Allowed Methods: (.+)$", chunk, flags=re.MULTILINE)
        assert example and allowed, f"seed section {name!r} lacks an example or its methods"
        description = chunk[allowed.end() :].strip()
        sections[name] = Section(name, json.loads(example.group(1)), allowed.group(1), description)
    return sections


SECTIONS = seed_sections()
LIST = SECTIONS["Migration Create List"]
DETAIL = SECTIONS["Migration Detail"]
STATUS = SECTIONS["Migration Status"]
STATUSES = re.findall(r"^- ([A-Z]+)$", STATUS.description, flags=re.MULTILINE)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    assert isinstance(value, dict), f"not a JSON value: {value!r}"
    return "object"


def assert_seed_shape(
    ours: dict[str, Any], seed: dict[str, Any], may_be_null: frozenset[str], where: str = ""
) -> None:
    """Exactly the seed's keys, recursively into objects; each value of the seed's JSON type."""
    assert set(ours) == set(seed), f"{where or 'top'}: keys differ: {set(ours) ^ set(seed)}"
    for key, model in seed.items():
        path = f"{where}.{key}" if where else key
        pattern = f"{where}.*" if where else path
        value = ours[key]
        if isinstance(model, dict):
            assert isinstance(value, dict), f"{path}: {value!r} is not an object"
            assert_seed_shape(value, model, may_be_null, path)
            continue
        if model is None:
            expected = {"null", WHEN_SEED_IS_NULL.get(path) or WHEN_SEED_IS_NULL[pattern]}
        else:
            expected = {json_type(model)}
            if path in may_be_null or pattern in may_be_null:
                expected.add("null")
        assert json_type(value) in expected, f"{path}: {value!r} is not one of {expected}"


def assert_detail(detail: dict[str, Any]) -> None:
    """The detail JSON as the seed and DESIGN §3 describe it."""
    assert_seed_shape(detail, DETAIL.example, DETAIL_MAY_BE_NULL)
    assert MIGRATION_ID.match(detail["id"]), detail["id"]
    assert WORK_ID.match(detail["work_id"]), detail["work_id"]
    assert detail["work"]["id"] == detail["work_id"]
    assert USER_ID.match(detail["work"]["owner_id"]), detail["work"]["owner_id"]
    assert USER_ID.match(detail["requester"]["id"]), detail["requester"]
    assert TIMESTAMP.match(detail["created"]), detail["created"]
    assert TIMESTAMP.match(detail["updated"]), detail["updated"]
    assert detail["updated"] >= detail["created"]
    assert detail["resource_uri"] == f"/api/authoring/migration/{detail['id']}/"
    assert detail["type"] == "deployment"


@pytest.fixture
def idle(sqlite_settings: Settings) -> Any:
    """The API on an engine with no executor: migrations stay PENDING, as before a worker runs."""
    runtime = build_runtime(sqlite_settings, with_executor=False)
    runtime.start()
    author = make_person(runtime, "author")
    work_id = import_sample(runtime, author)
    with TestClient(create_app(runtime=runtime)) as client:
        yield Api(client), author, work_id
    runtime.close()


def test_the_seed_documents_three_endpoints_and_six_statuses() -> None:
    assert set(SECTIONS) == {"Migration Create List", "Migration Detail", "Migration Status"}
    assert STATUSES == ["PENDING", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED"]
    assert LIST.example.keys() == DETAIL.example.keys()


def test_a_created_migration_answers_with_the_seed_detail(
    api: Api, author: Person, work_id: str
) -> None:
    response = api.create(author, work_id, features={"web": True, "size_report": True})

    assert response.status_code == 201
    assert_detail(response.json())
    assert response.json()["complete"] is False
    assert response.json()["failed"] is False


def test_detail_and_list_items_keep_the_seed_shape_before_and_after_the_run(
    api: Api, author: Person, work_id: str
) -> None:
    created = api.created(author, work_id, features={"web": True, "size_report": True})
    before = api.detail(author, created["id"], version=1).json()
    assert_detail(before)
    assert all(output is None for output in before["outputs"].values())

    api.wait_for_success(author, created["id"])

    after = api.detail(author, created["id"]).json()
    assert_detail(after)
    assert after["outputs"]["web"] is not None
    assert isinstance(after["web_script"], str)
    page = api.wait_for_list(author, 1, status="SUCCESS")
    assert page["results"][0] == after
    for item in page["results"]:
        assert_detail(item)


def test_the_list_is_drf_envelope_of_seed_details(api: Api, author: Person, work_id: str) -> None:
    for _ in range(3):
        api.created(author, work_id)

    page = api.get(author, MIGRATIONS, limit=2).json()

    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 3
    assert isinstance(page["next"], str)
    assert page["previous"] is None
    assert isinstance(page["results"], list) and len(page["results"]) == 2
    for item in page["results"]:
        assert_detail(item)


def test_status_before_a_worker_runs_it_is_pending_with_nulls(idle: Any) -> None:
    api, author, work_id = idle
    created = api.created(author, work_id)

    status = api.status(author, created["id"]).json()

    assert_seed_shape(status, STATUS.example, PENDING_STATUS_MAY_BE_NULL)
    assert status == {
        "status": "PENDING",
        "host": None,
        "pid": None,
        "id": created["task_id"],
        "result": None,
    }
    assert_detail(api.detail(author, created["id"]).json())


def test_status_after_the_run_has_the_seed_types(api: Api, author: Person, work_id: str) -> None:
    created = api.created(author, work_id, features={"web": True})

    status = api.wait_for_success(author, created["id"])

    assert_seed_shape(status, STATUS.example, frozenset())
    assert status["status"] in STATUSES
    assert status["id"] == created["task_id"]


def test_every_status_seen_while_it_runs_is_in_the_seed_vocabulary(
    api: Api, author: Person, work_id: str
) -> None:
    created = api.created(author, work_id, features={"web": True, "size_report": True})
    seen = {api.status(author, created["id"]).json()["status"]}

    seen.add(api.wait_for_success(author, created["id"])["status"])

    assert seen <= set(STATUSES)


@pytest.mark.parametrize(
    ("section", "path"),
    [
        pytest.param(
            LIST,
            MIGRATIONS,
            id="list",
        ),
        pytest.param(DETAIL, f"{MIGRATIONS}m-{uuid4().hex}/", id="detail"),
        pytest.param(STATUS, f"{MIGRATIONS}m-{uuid4().hex}/status/", id="status"),
    ],
)
def test_options_names_the_view_and_its_methods_as_the_seed_does(
    client: TestClient, section: Section, path: str
) -> None:
    response = client.options(path)

    assert response.status_code == 200
    assert response.headers["allow"] == section.allowed
    body = response.json()
    assert body["name"] == section.name
    assert body["description"].split("\n\n")[0] == section.description.split("\n\n")[0]
