"""Bad input of every kind gets a 4xx with a JSON detail that says what is wrong, never a 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Person
from tests.e2e.conftest import MIGRATIONS, WORKS, Api, sample_files, zipped

AUTHOR_ONLY = "Must be an author user to perform this action."


def assert_refused(response: httpx.Response, status: int, *names: str) -> None:
    """`status` with a JSON string detail naming each of `names`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    for name in names:
        assert name in detail, f"{name!r} not named in {detail!r}"


@pytest.fixture
def works(work_id: str, other_work_id: str) -> dict[str, str]:
    return {"mine": work_id, "theirs": other_work_id}


Body = Callable[[dict[str, str]], Any]
"""Makes a request body from the test's works ("mine", "theirs")."""

CREATE_BODIES: list[Any] = [
    pytest.param(lambda w: [w["mine"]], "body", id="json-array"),
    pytest.param(lambda w: "w-x", "body", id="json-string"),
    pytest.param(lambda w: {}, "work_id", id="missing-work-id"),
    pytest.param(lambda w: {"work_id": 123}, "work_id", id="work-id-number"),
    pytest.param(lambda w: {"work_id": None}, "work_id", id="work-id-null"),
    pytest.param(lambda w: {"work_id": [w["mine"]]}, "work_id", id="work-id-list"),
    pytest.param(lambda w: {"work_id": f"w-{uuid4().hex}"}, "work_id", id="unknown-work"),
    pytest.param(lambda w: {"work_id": "w-123"}, "work_id", id="malformed-work-id"),
    pytest.param(lambda w: {"work_id": f"m-{uuid4().hex}"}, "work_id", id="migration-id-as-work"),
    pytest.param(lambda w: {"work_id": "x" * 65}, "work_id", id="work-id-too-long"),
    pytest.param(lambda w: {"work_id": w["theirs"]}, "work_id", id="another-authors-work"),
    pytest.param(
        lambda w: {"work_id": w["mine"], "features": {"hologram": True}},
        "hologram",
        id="unknown-feature",
    ),
    pytest.param(
        lambda w: {"work_id": w["mine"], "features": {"web": "yes"}}, "web", id="feature-string"
    ),
    pytest.param(lambda w: {"work_id": w["mine"], "features": {"web": 1}}, "web", id="feature-1"),
    pytest.param(
        lambda w: {"work_id": w["mine"], "features": ["web"]}, "features", id="features-list"
    ),
    pytest.param(
        lambda w: {"work_id": w["mine"], "features": {"video": True}}, "video", id="video"
    ),
    pytest.param(
        lambda w: {"work_id": w["mine"], "features": {"youtube": True}}, "youtube", id="youtube"
    ),
    pytest.param(
        lambda w: {"work_id": w["mine"], "features": {"stash": True}}, "stash", id="stash"
    ),
    pytest.param(
        lambda w: {"work_id": w["mine"], "features": {"deviant_art": True}},
        "deviant_art",
        id="deviant-art-without-stash",
    ),
    pytest.param(lambda w: {"work_id": w["mine"], "type": "rollback"}, "type", id="unknown-type"),
    pytest.param(lambda w: {"work_id": w["mine"], "type": 5}, "type", id="type-number"),
    pytest.param(lambda w: {"work_id": w["mine"], "encrypted": "yes"}, "encrypted", id="encrypted"),
    pytest.param(lambda w: {"work_id": w["mine"], "primary": None}, "primary", id="primary-null"),
    pytest.param(
        lambda w: {"work_id": w["mine"], "project_id": "p" * 201}, "project_id", id="long-project"
    ),
]


@pytest.mark.parametrize(("body", "named"), CREATE_BODIES)
def test_a_bad_create_body_is_refused_naming_the_field(
    api: Api, author: Person, works: dict[str, str], body: Body, named: str
) -> None:
    response = api.client.post(MIGRATIONS, json=body(works), headers=api.auth(author))

    assert_refused(response, 400, named)
    assert api.get(author, MIGRATIONS).json()["count"] == 0


@pytest.mark.parametrize("raw", [b"{", b'{"work_id": ', b"not json", b"\xff\xfe", b""], ids=repr)
def test_a_body_that_is_not_json_is_refused(api: Api, author: Person, raw: bytes) -> None:
    response = api.client.post(
        MIGRATIONS, content=raw, headers={**api.auth(author), "content-type": "application/json"}
    )

    assert_refused(response, 400)


def test_a_long_idempotency_key_is_refused(api: Api, author: Person, work_id: str) -> None:
    response = api.create(author, work_id, headers={"Idempotency-Key": "k" * 256})

    assert_refused(response, 400, "idempotency-key")


@pytest.mark.parametrize("streamed", [False, True], ids=["declared", "chunked"])
def test_a_huge_body_is_too_large(api: Api, author: Person, work_id: str, streamed: bool) -> None:
    body = json.dumps({"work_id": work_id, "project_id": "p" * (1024 * 1024)}).encode()
    content: Any = iter([body[:4096], body[4096:]]) if streamed else body

    response = api.client.post(
        MIGRATIONS,
        content=content,
        headers={**api.auth(author), "content-type": "application/json"},
    )

    assert_refused(response, 413)


@pytest.mark.parametrize(
    "path",
    [
        f"{MIGRATIONS}zzz/",
        f"{MIGRATIONS}m-123/status/",
        f"{MIGRATIONS}w-{uuid4().hex}/",
        f"{MIGRATIONS}w-{uuid4().hex}/status/",
        f"{MIGRATIONS}M-{uuid4().hex.upper()}/",
        f"{MIGRATIONS}m-{uuid4().hex}x/",
        f"{MIGRATIONS}{'m' * 5000}/",
        f"{MIGRATIONS}m-{uuid4().hex}/nothing/",
        f"{WORKS}zzz/",
        f"{WORKS}w-{uuid4().hex}/",
    ],
    ids=[
        "zzz",
        "short-status",
        "work-id",
        "work-id-status",
        "uppercase",
        "trailing-char",
        "long",
        "unknown-subpath",
        "work-zzz",
        "unknown-work",
    ],
)
def test_a_bad_id_in_the_path_is_not_found(api: Api, author: Person, path: str) -> None:
    assert_refused(api.get(author, path), 404)


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": "abc"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"status": "BOGUS"}, "status"),
        ({"status": "success"}, "status"),
        ({"type": "rollback"}, "type"),
        ({"created_after": "notadate"}, "created_after"),
        ({"created_before": "2017-13-45T00:00:00Z"}, "created_before"),
        ({"created_after": "2017-04-11T22:13:04"}, "created_after"),
    ],
    ids=lambda value: (
        "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None
    ),
)
def test_a_bad_list_query_parameter_is_refused_naming_it(
    api: Api, author: Person, params: dict[str, str], named: str
) -> None:
    assert_refused(api.get(author, MIGRATIONS, **params), 400, named)


@pytest.mark.parametrize(
    ("params", "code"),
    [({"version": "0"}, 404), ({"version": "-1"}, 404), ({"version": "abc"}, 400)],
)
def test_a_bad_detail_version_is_refused_naming_it(
    api: Api, author: Person, work_id: str, params: dict[str, str], code: int
) -> None:
    created = api.created(author, work_id)

    assert_refused(api.detail(author, created["id"], **params), code, "version")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", MIGRATIONS),
        ("DELETE", MIGRATIONS),
        ("PATCH", MIGRATIONS),
        ("PUT", f"{MIGRATIONS}m-{uuid4().hex}/"),
        ("DELETE", f"{MIGRATIONS}m-{uuid4().hex}/"),
        ("POST", f"{MIGRATIONS}m-{uuid4().hex}/status/"),
    ],
)
def test_a_wrong_method_is_not_allowed(api: Api, author: Person, method: str, path: str) -> None:
    assert_refused(api.client.request(method, path, headers=api.auth(author)), 405)


def test_a_wrong_method_tells_the_allowed_ones(client: TestClient, author: Person) -> None:
    response = client.put(MIGRATIONS, headers=Api.auth(author))

    assert response.status_code == 405
    assert response.headers["allow"] == client.options(MIGRATIONS).headers["allow"]


def pages_missing(files: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in files.items() if name != "pages/02.png"}


def manifest_of(document: Any) -> Callable[[dict[str, bytes]], dict[str, bytes]]:
    return lambda files: {**files, "manifest.json": json.dumps(document).encode()}


UPLOADS: list[Any] = [
    pytest.param(lambda files: None, "zip", id="not-a-zip"),
    pytest.param(
        lambda files: {k: v for k, v in files.items() if k != "manifest.json"},
        "manifest.json",
        id="no-manifest",
    ),
    pytest.param(pages_missing, "pages/02.png", id="missing-page"),
    pytest.param(
        lambda files: {**files, "pages/03.png": b"not an image"}, "pages/03.png", id="bad-image"
    ),
    pytest.param(
        lambda files: {**files, "manifest.json": b"{"}, "manifest.json", id="manifest-not-json"
    ),
    pytest.param(manifest_of([]), "manifest.json", id="manifest-array"),
    pytest.param(manifest_of({"sub_name": "x", "pages": ["pages/01.png"]}), "name", id="no-name"),
    pytest.param(manifest_of({"name": "x", "sub_name": "x", "pages": []}), "pages", id="no-pages"),
    pytest.param(
        manifest_of({"name": "x", "sub_name": "x", "pages": ["../etc/passwd"]}),
        "../etc/passwd",
        id="page-escapes",
    ),
]


@pytest.mark.parametrize(("make", "named"), UPLOADS)
def test_a_bad_work_upload_is_refused_naming_the_problem(
    api: Api,
    author: Person,
    make: Callable[[dict[str, bytes]], dict[str, bytes] | None],
    named: str,
) -> None:
    files = make(sample_files())
    bundle = b"this is not a zip file" if files is None else zipped(files)

    response = api.upload(author, bundle)

    assert_refused(response, 400, "file", named)


def test_an_upload_without_the_file_field_is_refused(api: Api, author: Person) -> None:
    response = api.client.post(WORKS, data={"other": "x"}, headers=api.auth(author))

    assert_refused(response, 400, "file")


def test_a_reader_may_not_upload_a_work(api: Api, reader: Person) -> None:
    response = api.upload(reader, zipped(sample_files()))

    assert_refused(response, 403)
    assert response.json()["detail"] == AUTHOR_ONLY
