"""Stories of the audit trail from outside: history over HTTP, the past through ?version= and
?as_of=, and the `audit show` / `audit export` commands on the same store."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from interface.cli.main import app
from interface.runtime import Runtime
from tests.conftest import Person
from tests.e2e.conftest import MIGRATIONS, Api

SEED_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
TYPES = [
    "migration.created",
    "migration.started",
    "migration.output_produced",
    "migration.completed",
]


def history_url(migration_id: str) -> str:
    return f"{MIGRATIONS}{migration_id}/history/"


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def moment(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


@pytest.fixture
def deployed(api: Api, author: Person, work_id: str) -> str:
    """A migration that made its size report and succeeded: four events."""
    created = api.created(author, work_id, features={"size_report": True})
    api.wait_for_success(author, created["id"])
    return str(created["id"])


@pytest.fixture
def history(api: Api, author: Person, deployed: str) -> list[dict[str, Any]]:
    response = api.get(author, history_url(deployed))
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


@pytest.fixture
def cli_env(live_runtime: Runtime) -> dict[str, str]:
    """The environment that points the CLI at the server's store; a wide terminal."""
    return {
        "MIGRATION_ENGINE_DATABASE_URL": live_runtime.settings.database_url,
        "MIGRATION_ENGINE_DATA_DIR": str(live_runtime.settings.data_dir),
        "COLUMNS": "200",
    }


# History over HTTP ------------------------------------------------------------------


def test_an_author_reads_the_history_of_a_migration(
    api: Api, author: Person, deployed: str
) -> None:
    response = api.get(author, history_url(deployed))

    assert response.status_code == 200, response.text
    page = response.json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert (page["count"], page["next"], page["previous"]) == (4, None, None)
    results = page["results"]
    assert all(set(r) == {"version", "type", "timestamp", "data", "chain"} for r in results)
    assert [r["version"] for r in results] == [1, 2, 3, 4]
    assert [r["type"] for r in results] == TYPES
    assert all(SEED_TIMESTAMP.match(r["timestamp"]) for r in results)
    assert [r["timestamp"] for r in results] == sorted(r["timestamp"] for r in results)
    assert all(re.fullmatch(r"[0-9a-f]{64}", r["chain"]) for r in results)
    created, started, produced, completed = (r["data"] for r in results)
    assert created["features"]["size_report"] is True
    assert created["requester_id"] == author.caller.user_id
    assert started["attempt"] == 1 and isinstance(started["host"], str)
    assert produced["name"] == "size_report"
    detail = api.detail(author, deployed).json()
    assert produced["value"] == detail["outputs"]["size_report"]
    assert completed == {"result": True}


def test_the_history_is_paginated_with_links(api: Api, author: Person, deployed: str) -> None:
    first = api.get(author, history_url(deployed), limit=1).json()

    assert first["count"] == 4 and first["previous"] is None
    assert [r["version"] for r in first["results"]] == [1]
    assert query_of(first["next"]) == {"limit": ["1"], "offset": ["1"]}

    versions, page = [1], first
    while page["next"] is not None:
        response = api.client.get(page["next"], headers=api.auth(author))
        assert response.status_code == 200, response.text
        page = response.json()
        versions += [r["version"] for r in page["results"]]
        assert page["previous"] is not None
    assert versions == [1, 2, 3, 4]
    assert query_of(page["previous"]) == {"limit": ["1"], "offset": ["2"]}

    middle = api.get(author, history_url(deployed), limit=2, offset=1).json()
    assert [r["version"] for r in middle["results"]] == [2, 3]
    assert query_of(middle["next"])["offset"] == ["3"]
    assert query_of(middle["previous"])["offset"] == ["0"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"offset": -1}])
def test_a_bad_page_of_history_is_refused(
    api: Api, author: Person, deployed: str, params: dict[str, int]
) -> None:
    response = api.get(author, history_url(deployed), **params)

    assert response.status_code == 400
    assert next(iter(params)) in response.json()["detail"]


def test_another_authors_history_does_not_exist_for_me(
    api: Api, other_author: Person, deployed: str
) -> None:
    response = api.get(other_author, history_url(deployed))

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("unknown", ["m-" + "0" * 32, "w-" + "0" * 32, "nonsense"])
def test_the_history_of_an_unknown_migration_is_not_found(
    api: Api, author: Person, unknown: str
) -> None:
    response = api.get(author, history_url(unknown))

    assert response.status_code == 404
    assert "detail" in response.json()


def test_an_admin_reads_any_history(api: Api, admin: Person, deployed: str) -> None:
    response = api.get(admin, history_url(deployed))

    assert response.status_code == 200
    assert response.json()["count"] == 4


def test_an_anonymous_caller_must_authenticate_to_read_history(
    client: TestClient, deployed: str
) -> None:
    response = client.get(history_url(deployed))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


# The past over HTTP ----------------------------------------------------------------


def test_each_version_shows_the_migration_as_it_was(
    api: Api, author: Person, deployed: str
) -> None:
    statuses = [
        api.get(author, f"{MIGRATIONS}{deployed}/status/", version=v).json()["status"]
        for v in (1, 2, 3, 4)
    ]
    first = api.detail(author, deployed, version=1)
    third = api.detail(author, deployed, version=3)

    assert statuses == ["PENDING", "STARTED", "STARTED", "SUCCESS"]
    assert first.status_code == 200, first.text
    assert first.json()["outputs"]["size_report"] is None
    assert first.json()["complete"] is False
    assert first.json()["updated"] == first.json()["created"]
    assert third.json()["outputs"]["size_report"] is not None
    assert third.json()["complete"] is False
    assert api.detail(author, deployed, version=4).json() == api.detail(author, deployed).json()
    pending = api.get(author, f"{MIGRATIONS}{deployed}/status/", version=1).json()
    assert (pending["host"], pending["pid"], pending["result"]) == (None, None, None)


def test_each_events_moment_shows_the_same_as_its_version(
    api: Api, author: Person, deployed: str, history: list[dict[str, Any]]
) -> None:
    for event in history:
        at = {"as_of": event["timestamp"]}
        version = {"version": event["version"]}
        for path in (f"{MIGRATIONS}{deployed}/", f"{MIGRATIONS}{deployed}/status/"):
            as_of = api.get(author, path, **at)
            assert as_of.status_code == 200, as_of.text
            assert as_of.json() == api.get(author, path, **version).json(), (path, version)


def test_a_moment_with_an_offset_is_understood(
    api: Api, author: Person, deployed: str, history: list[dict[str, Any]]
) -> None:
    started = moment(history[1]["timestamp"])
    in_paris = started.astimezone(timezone(timedelta(hours=2))).isoformat()

    response = api.get(author, f"{MIGRATIONS}{deployed}/status/", as_of=in_paris)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "STARTED"


def test_before_its_creation_a_migration_is_not_found(
    api: Api, author: Person, deployed: str, history: list[dict[str, Any]]
) -> None:
    before = moment(history[0]["timestamp"]) - timedelta(seconds=1)

    response = api.detail(author, deployed, as_of=before.isoformat())

    assert response.status_code == 404
    assert "did not exist yet" in response.json()["detail"]


def test_version_and_as_of_together_are_refused(
    api: Api, author: Person, deployed: str, history: list[dict[str, Any]]
) -> None:
    for path in (f"{MIGRATIONS}{deployed}/", f"{MIGRATIONS}{deployed}/status/"):
        response = api.get(author, path, version=1, as_of=history[0]["timestamp"])

        assert response.status_code == 400
        assert "either version or as_of" in response.json()["detail"]


def test_a_moment_without_a_zone_is_refused(
    api: Api, author: Person, deployed: str, history: list[dict[str, Any]]
) -> None:
    naive = history[1]["timestamp"].removesuffix("Z")

    for path in (f"{MIGRATIONS}{deployed}/", f"{MIGRATIONS}{deployed}/status/"):
        response = api.get(author, path, as_of=naive)

        assert response.status_code == 400
        assert "timezone" in response.json()["detail"]


@pytest.mark.parametrize("params", [{"version": "abc"}, {"as_of": "yesterday"}])
def test_a_malformed_version_or_moment_is_refused(
    api: Api, author: Person, deployed: str, params: dict[str, str]
) -> None:
    for path in (f"{MIGRATIONS}{deployed}/", f"{MIGRATIONS}{deployed}/status/"):
        response = api.get(author, path, **params)

        assert response.status_code == 400
        assert next(iter(params)) in response.json()["detail"]


def test_a_version_after_the_last_is_not_found_naming_the_range(
    api: Api, author: Person, deployed: str
) -> None:
    for path in (f"{MIGRATIONS}{deployed}/", f"{MIGRATIONS}{deployed}/status/"):
        response = api.get(author, path, version=99)

        assert response.status_code == 404
        assert "versions 1 to 4" in response.json()["detail"]


def test_version_zero_is_not_found_naming_the_range(
    api: Api, author: Person, deployed: str
) -> None:
    for path in (f"{MIGRATIONS}{deployed}/", f"{MIGRATIONS}{deployed}/status/"):
        response = api.get(author, path, version=0)

        assert response.status_code == 404, response.text
        assert "versions 1 to 4" in response.json()["detail"]


def test_the_past_of_another_authors_migration_does_not_exist_for_me(
    api: Api, other_author: Person, deployed: str
) -> None:
    assert api.detail(other_author, deployed, version=1).status_code == 404


# The CLI on the same store ---------------------------------------------------------


def test_audit_show_prints_the_timeline(
    cli_env: dict[str, str], deployed: str, history: list[dict[str, Any]]
) -> None:
    result = CliRunner().invoke(app, ["audit", "show", deployed], env=cli_env)

    assert result.exit_code == 0, result.output
    text = result.stdout
    assert f"{deployed}: 4 events" in text
    started = history[1]["data"]
    assert f"attempt 1 started by {started['host']}/{started['pid']}" in text
    size = history[2]["data"]["value"]["bytes"]
    assert f"output size_report produced ({size} bytes)" in text
    assert "completed" in text
    assert all(event["timestamp"] in text for event in history)
    lines = [line for line in text.splitlines() if "migration." in line]
    assert [next(t for t in TYPES if t in line) for line in lines] == TYPES


def test_audit_show_of_an_unknown_migration_fails_cleanly(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["audit", "show", "m-" + "0" * 32], env=cli_env)

    assert result.exit_code == 1
    assert "Traceback" not in result.output


def test_audit_export_writes_every_event_as_json_lines(
    cli_env: dict[str, str], live_runtime: Runtime, deployed: str, tmp_path: Path
) -> None:
    out = tmp_path / "log.jsonl"

    result = CliRunner().invoke(app, ["audit", "export", "--out", str(out)], env=cli_env)

    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    stored = live_runtime.engine.log.recorder.select_notifications(start=1, limit=1_000_000)
    assert len(records) == len(stored)
    assert [r["position"] for r in records] == [n.id for n in stored]
    assert [r["version"] for r in records if r["id"] == deployed] == [1, 2, 3, 4]
    registered = [r for r in records if r["type"] == "user.registered"]
    assert registered and all(r["data"]["password_hash"] == "<redacted>" for r in registered)


def test_audit_export_since_a_moment_writes_only_what_came_after(
    cli_env: dict[str, str], deployed: str, history: list[dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "recent.jsonl"

    result = CliRunner().invoke(
        app,
        ["audit", "export", "--since", history[2]["timestamp"], "--out", str(out)],
        env=cli_env,
    )

    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["version"]) for r in records] == [(deployed, 3), (deployed, 4)]


def test_audit_export_since_a_day_without_a_zone_reads_it_as_utc(
    cli_env: dict[str, str], live_runtime: Runtime, deployed: str, tmp_path: Path
) -> None:
    out = tmp_path / "since-2020.jsonl"

    result = CliRunner().invoke(
        app, ["audit", "export", "--since", "2020-01-01", "--out", str(out)], env=cli_env
    )

    assert result.exit_code == 0, result.output
    stored = live_runtime.engine.log.recorder.select_notifications(start=1, limit=1_000_000)
    assert len(out.read_text().splitlines()) == len(stored)
