"""Who may do what: credentials, roles, and which migrations each caller can see."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Person
from tests.e2e.conftest import MIGRATIONS, Api

AUTHOR_ONLY = "Must be an author user to perform this action."
SOME_MIGRATION = f"{MIGRATIONS}m-{uuid4().hex}/"
ENDPOINTS = [
    ("GET", MIGRATIONS),
    ("POST", MIGRATIONS),
    ("GET", SOME_MIGRATION),
    ("GET", f"{SOME_MIGRATION}status/"),
    ("POST", "/signout/"),
]


def assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert isinstance(response.json()["detail"], str)
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_an_anonymous_caller_must_authenticate(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, json={"work_id": f"w-{uuid4().hex}"})

    assert_unauthenticated(response)
    assert response.json()["detail"] == "Authentication credentials were not provided."


@pytest.mark.parametrize(
    "token",
    ["nonsense", f"{uuid4().hex}.forged", f"{uuid4().hex}", "x" * 500],
    ids=["garbage", "unknown-user", "no-secret", "long"],
)
def test_a_bad_token_is_refused(client: TestClient, token: str) -> None:
    assert_unauthenticated(client.get(MIGRATIONS, headers={"Authorization": f"Bearer {token}"}))


def test_a_forged_secret_for_a_real_user_is_refused(client: TestClient, author: Person) -> None:
    user_hex = author.caller.user_id.removeprefix("u-")

    response = client.get(MIGRATIONS, headers={"Authorization": f"Bearer {user_hex}.forged"})

    assert_unauthenticated(response)


def test_a_migration_id_posing_as_a_token_is_refused(
    api: Api, author: Person, work_id: str
) -> None:
    migration_hex = api.created(author, work_id)["id"].removeprefix("m-")

    response = api.client.get(MIGRATIONS, headers={"Authorization": f"Bearer {migration_hex}.x"})

    assert_unauthenticated(response)


@pytest.mark.parametrize(
    "header", ["Token abc", "Bearer", "Basic dXNlcjpwYXNzd29yZA==", "bearer-abc"]
)
def test_a_malformed_authorization_header_is_refused(
    client: TestClient, author: Person, header: str
) -> None:
    assert_unauthenticated(client.get(MIGRATIONS, headers={"Authorization": header}))


def test_a_reader_may_not_create_a_migration(
    api: Api, reader: Person, author: Person, work_id: str
) -> None:
    response = api.create(reader, work_id)

    assert response.status_code == 403
    assert response.json()["detail"] == AUTHOR_ONLY


def test_a_reader_sees_no_migrations(
    api: Api, reader: Person, author: Person, work_id: str
) -> None:
    created = api.created(author, work_id)

    assert api.get(reader, MIGRATIONS).json()["count"] == 0
    assert api.detail(reader, created["id"]).status_code == 404


def test_another_authors_migration_does_not_exist_for_me(
    api: Api, author: Person, work_id: str, other_author: Person, other_work_id: str
) -> None:
    theirs = api.created(other_author, other_work_id)
    mine = api.created(author, work_id)

    detail = api.detail(author, theirs["id"])
    status = api.status(author, theirs["id"])
    listed = [item["id"] for item in api.get(author, MIGRATIONS).json()["results"]]

    assert detail.status_code == 404
    assert status.status_code == 404
    assert detail.json() == status.json() == {"detail": "Not found."}
    assert listed == [mine["id"]]


def test_another_authors_migration_is_hidden_from_list_filters_too(
    api: Api, author: Person, other_author: Person, other_work_id: str
) -> None:
    api.created(other_author, other_work_id)

    page = api.get(author, MIGRATIONS, work_id=other_work_id).json()

    assert page["count"] == 0


def test_an_admin_sees_every_migration(
    api: Api,
    admin: Person,
    author: Person,
    work_id: str,
    other_author: Person,
    other_work_id: str,
) -> None:
    made = [api.created(author, work_id)["id"], api.created(other_author, other_work_id)["id"]]

    listed = [item["id"] for item in api.get(admin, MIGRATIONS).json()["results"]]

    assert listed == made[::-1]
    for migration_id in made:
        assert api.detail(admin, migration_id).status_code == 200
        assert api.status(admin, migration_id).status_code == 200


def test_an_admin_may_deploy_an_authors_work(
    api: Api, admin: Person, author: Person, work_id: str
) -> None:
    response = api.create(admin, work_id)

    assert response.status_code == 201
    assert response.json()["requester"]["id"] == admin.caller.user_id
    assert response.json()["work"]["owner_id"] == author.caller.user_id
    assert api.detail(author, response.json()["id"]).status_code == 200


def test_signing_in_gives_a_token_and_a_session_cookie(client: TestClient, author: Person) -> None:
    response = client.post("/signin/", json={"email": author.email, "password": author.password})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "user"}
    assert body["user"] == {"id": author.caller.user_id, "email": author.email, "role": "author"}
    assert response.cookies["sessionid"] == body["token"]
    assert client.get(MIGRATIONS).status_code == 200  # the cookie alone authenticates
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert TestClient(client.app).get(MIGRATIONS, headers=bearer).status_code == 200


def test_signing_in_ignores_the_email_case(client: TestClient, author: Person) -> None:
    response = client.post(
        "/signin/", json={"email": author.email.upper(), "password": author.password}
    )

    assert response.status_code == 200
    assert response.json()["user"]["id"] == author.caller.user_id


@pytest.mark.parametrize(
    ("email", "password"),
    [("{email}", "wrong password"), ("nobody@example.com", "correct horse battery")],
    ids=["wrong-password", "unknown-email"],
)
def test_signing_in_with_wrong_credentials_is_refused(
    client: TestClient, author: Person, email: str, password: str
) -> None:
    response = client.post(
        "/signin/", json={"email": email.format(email=author.email), "password": password}
    )

    assert_unauthenticated(response)
    assert response.json()["detail"] == "Unable to log in with provided credentials."
    assert "sessionid" not in response.cookies


def test_signing_out_ends_the_token(client: TestClient, author: Person) -> None:
    token = client.post(
        "/signin/", json={"email": author.email, "password": author.password}
    ).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}

    response = client.post("/signout/", headers=bearer)

    assert response.status_code == 204
    assert_unauthenticated(client.get(MIGRATIONS, headers=bearer))
    assert_unauthenticated(client.get(MIGRATIONS))  # nor does its cookie
    author_token = {"Authorization": f"Bearer {author.token}"}
    assert client.get(MIGRATIONS, headers=author_token).status_code == 200  # other tokens live on


def test_signing_out_by_cookie_ends_the_session(client: TestClient, author: Person) -> None:
    token = client.post(
        "/signin/", json={"email": author.email, "password": author.password}
    ).json()["token"]

    response = client.post("/signout/")

    assert response.status_code == 204
    assert_unauthenticated(client.get(MIGRATIONS))
    assert_unauthenticated(client.get(MIGRATIONS, headers={"Authorization": f"Bearer {token}"}))
