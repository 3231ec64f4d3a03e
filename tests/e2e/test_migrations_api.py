"""Stories of the seed's migration endpoints: create, watch it run, read it, list, retry safely."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from interface.runtime import Runtime
from tests.conftest import Person, import_sample
from tests.e2e.conftest import MIGRATIONS, Api

SHA256 = re.compile(r"^[0-9a-f]{64}$")


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_an_author_deploys_a_work_to_the_web_with_a_size_report(
    api: Api, author: Person, work_id: str
) -> None:
    response = api.create(author, work_id, features={"web": True, "size_report": True})

    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == created["resource_uri"]
    assert created["features"]["web"] is True
    assert created["features"]["size_report"] is True

    status = api.wait_for_success(author, created["id"])
    assert isinstance(status["host"], str) and status["host"]
    assert type(status["pid"]) is int
    assert status["result"] is True

    detail = api.detail(author, created["id"]).json()
    assert detail["complete"] is True
    assert detail["failed"] is False
    for name in ("web", "size_report"):
        output = detail["outputs"][name]
        assert isinstance(output, dict), name
        assert output["url"].startswith(f"/outputs/{created['id']}/")
        assert type(output["bytes"]) is int and output["bytes"] > 0
        assert SHA256.match(output["sha256"])
    assert detail["outputs"]["video"] is None
    assert isinstance(detail["web_script"], str)


def test_the_web_output_opens_as_a_reader(api: Api, author: Person, work_id: str) -> None:
    created = api.created(author, work_id, features={"web": True})
    api.wait_for_success(author, created["id"])
    detail = api.detail(author, created["id"]).json()
    web = detail["outputs"]["web"]

    page = api.client.get(web["url"])
    script = api.client.get(detail["web_script"])

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script.json" in page.text
    assert hashlib.sha256(page.content).hexdigest() == web["sha256"]
    assert script.status_code == 200
    assert script.json()["work"]["id"] == work_id
    assert len(script.json()["pages"]) == 4
    first_image = script.json()["pages"][0]["image"]
    assert api.client.get(web["url"].rsplit("/", 1)[0] + "/" + first_image).status_code == 200


def test_the_size_report_output_is_a_json_report(api: Api, author: Person, work_id: str) -> None:
    created = api.created(author, work_id, features={"size_report": True})
    api.wait_for_success(author, created["id"])
    output = api.detail(author, created["id"]).json()["outputs"]["size_report"]

    report = api.client.get(output["url"])

    assert report.status_code == 200
    assert hashlib.sha256(report.content).hexdigest() == output["sha256"]
    assert report.json()["migration_id"] == created["id"]
    assert set(report.json()["devices"]) == {"phone", "tablet", "desktop"}


def test_a_new_migration_is_in_its_creators_list_at_once(
    api: Api, author: Person, work_id: str
) -> None:
    created = api.created(author, work_id)

    page = api.get(author, MIGRATIONS).json()

    assert page["count"] == 1
    assert page["results"][0]["id"] == created["id"]


def test_the_list_pages_newest_first_with_next_and_previous_links(
    api: Api, author: Person, work_id: str
) -> None:
    ids = [api.created(author, work_id)["id"] for _ in range(5)]

    first = api.get(author, MIGRATIONS, limit=2).json()
    assert first["count"] == 5
    assert first["previous"] is None
    assert query_of(first["next"]) == {"limit": ["2"], "offset": ["2"]}
    second = api.client.get(first["next"], headers=api.auth(author)).json()
    assert query_of(second["previous"]) == {"limit": ["2"]}
    third = api.client.get(second["next"], headers=api.auth(author)).json()
    assert third["next"] is None
    assert query_of(third["previous"]) == {"limit": ["2"], "offset": ["2"]}

    listed = [item["id"] for page in (first, second, third) for item in page["results"]]
    assert listed == ids[::-1]
    created_times = [item["created"] for page in (first, second, third) for item in page["results"]]
    assert created_times == sorted(created_times, reverse=True)


def test_the_list_limit_defaults_to_twenty_and_is_capped_at_a_hundred(
    api: Api, author: Person, work_id: str
) -> None:
    for _ in range(3):
        api.created(author, work_id)

    default = api.get(author, MIGRATIONS, offset=1).json()
    capped = api.get(author, MIGRATIONS, limit=1000, offset=1).json()

    assert query_of(default["previous"]) == {"limit": ["20"]}
    assert query_of(capped["previous"]) == {"limit": ["100"]}
    assert len(capped["results"]) == 2


def test_the_list_filters_by_status_work_type_and_creation_time(
    api: Api, live_runtime: Runtime, author: Person, work_id: str
) -> None:
    second_work = import_sample(live_runtime, author)
    made = [api.created(author, w) for w in (work_id, work_id, second_work)]
    for migration in made:
        api.wait_for_success(author, migration["id"])
    api.wait_for_list(author, 3, status="SUCCESS")

    def ids(**params: str) -> list[str]:
        response = api.get(author, MIGRATIONS, **params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["results"]]

    first, middle, last = (migration["id"] for migration in made)
    assert ids(status="SUCCESS") == [last, middle, first]
    assert ids(status="FAILURE") == []
    assert ids(work_id=second_work) == [last]
    assert ids(work_id=work_id) == [middle, first]
    assert ids(type="deployment") == [last, middle, first]
    assert ids(created_after=made[0]["created"]) == [last, middle]
    assert ids(created_before=made[2]["created"]) == [middle, first]
    assert ids(created_after=made[0]["created"], created_before=made[2]["created"]) == [middle]
    assert ids(created_after="2017-04-11T22:13:04Z") == [last, middle, first]
    assert ids(created_before="2017-04-11T22:13:04.028310Z") == []


def test_the_same_idempotency_key_and_body_give_back_the_same_migration(
    api: Api, author: Person, work_id: str
) -> None:
    key = {"Idempotency-Key": f"deploy-{uuid4().hex}"}

    first = api.create(author, work_id, headers=key, features={"web": True})
    again = api.create(author, work_id, headers=key, features={"web": True})

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert api.get(author, MIGRATIONS).json()["count"] == 1


def test_the_same_idempotency_key_with_another_body_is_a_conflict(
    api: Api, author: Person, work_id: str
) -> None:
    key = {"Idempotency-Key": f"deploy-{uuid4().hex}"}
    api.create(author, work_id, headers=key, features={"web": True})

    conflict = api.create(author, work_id, headers=key, features={"size_report": True})

    assert conflict.status_code == 409
    assert isinstance(conflict.json()["detail"], str)
    assert api.get(author, MIGRATIONS).json()["count"] == 1


def test_idempotency_keys_belong_to_each_requester(
    api: Api,
    author: Person,
    work_id: str,
    other_author: Person,
    other_work_id: str,
) -> None:
    key = {"Idempotency-Key": "deploy-1"}

    mine = api.create(author, work_id, headers=key)
    theirs = api.create(other_author, other_work_id, headers=key)

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (MIGRATIONS, "GET, POST, OPTIONS"),
        (f"{MIGRATIONS}m-{uuid4().hex}/", "GET, OPTIONS"),
        (f"{MIGRATIONS}m-{uuid4().hex}/status/", "GET, OPTIONS"),
    ],
    ids=["list", "detail", "status"],
)
def test_options_tells_the_allowed_methods(client: TestClient, path: str, allowed: str) -> None:
    response = client.options(path)

    assert response.status_code == 200
    assert response.headers["allow"] == allowed
    body = response.json()
    assert isinstance(body["name"], str) and body["name"]
    assert isinstance(body["description"], str) and body["description"]


@pytest.mark.parametrize("suffix", ["", "status/"], ids=["detail", "status"])
def test_an_unknown_migration_is_not_found_never_pending(
    api: Api, author: Person, suffix: str
) -> None:
    response = api.get(author, f"{MIGRATIONS}m-{uuid4().hex}/{suffix}")

    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)


def test_version_one_of_a_finished_migration_is_its_pending_view(
    api: Api, author: Person, work_id: str
) -> None:
    created = api.created(author, work_id, features={"web": True})
    api.wait_for_success(author, created["id"])

    first = api.detail(author, created["id"], version=1)
    beyond = api.detail(author, created["id"], version=1000)

    assert first.status_code == 200
    assert first.json() == created
    assert first.json()["complete"] is False
    assert first.json()["web_script"] is None
    assert all(output is None for output in first.json()["outputs"].values())
    assert beyond.status_code == 404
