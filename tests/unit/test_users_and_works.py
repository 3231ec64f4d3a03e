"""Users, works and public ids: the small aggregates and the id format every layer shares."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from eventsourcing.utils import get_topic

from domain.errors import DomainError, InvalidIdError
from domain.ids import MIGRATION, USER, WORK, format_id, parse_id
from domain.user import Role, User
from domain.work import Work

# Users ------------------------------------------------------------------------


def test_a_user_registers_with_a_lowercased_email() -> None:
    user = User.register(email="  Ada.Lovelace@Example.COM ", role="author", password_hash="h1")

    assert user.email == "ada.lovelace@example.com"
    assert user.role == Role.AUTHOR
    assert user.password_hash == "h1"
    assert user.token_hashes == []
    assert user.public_id == f"u-{user.id.hex}"


def test_the_user_id_is_derived_from_the_email_whatever_its_case() -> None:
    user = User.register(email="Ada@Example.com", role="reader", password_hash="h")

    assert user.id == User.create_id("ada@example.com")
    assert User.create_id("ADA@EXAMPLE.COM ") == User.create_id("ada@example.com")
    assert User.create_id("grace@example.com") != User.create_id("ada@example.com")


@pytest.mark.parametrize(
    "email", ["not-an-email", "", "   ", "@", "ann@", "@example.com", "a" * 250 + "@example.com"]
)
def test_a_bad_email_is_refused(email: str) -> None:
    with pytest.raises(DomainError, match="is not a valid email address"):
        User.register(email=email, role="author", password_hash="h")


@pytest.mark.parametrize("role", ["root", "Admin", ""])
def test_an_unknown_role_is_refused(role: str) -> None:
    with pytest.raises(DomainError, match="role must be one of: reader, author, admin"):
        User.register(email="ada@example.com", role=role, password_hash="h")


@pytest.mark.parametrize(
    ("role", "can_deploy"), [("reader", False), ("author", True), ("admin", True)]
)
def test_authors_and_admins_can_deploy_readers_cannot(role: str, can_deploy: bool) -> None:
    user = User.register(email="ada@example.com", role=role, password_hash="h")

    assert user.can_deploy is can_deploy


def test_tokens_are_issued_and_revoked() -> None:
    user = User.register(email="ada@example.com", role="author", password_hash="h")

    user.issue_token("t1")
    user.issue_token("t2")
    assert user.token_hashes == ["t1", "t2"]

    user.revoke_token("t1")
    assert user.token_hashes == ["t2"]

    topics = [get_topic(type(e)) for e in user.collect_events()]
    assert topics == [
        "user.registered",
        "user.token_issued",
        "user.token_issued",
        "user.token_revoked",
    ]


def test_revoking_an_unknown_token_records_nothing() -> None:
    user = User.register(email="ada@example.com", role="author", password_hash="h")
    user.issue_token("t1")
    user.collect_events()

    user.revoke_token("never-issued")

    assert user.token_hashes == ["t1"]
    assert user.collect_events() == []


# Works ------------------------------------------------------------------------


def test_a_work_summary_is_what_a_migration_records() -> None:
    work = Work(name="The Lighthouse", sub_name="Issue 1", owner_id="u-1", pages=["p1.png"])

    assert work.summary() == {
        "id": f"w-{work.id.hex}",
        "name": "The Lighthouse",
        "sub_name": "Issue 1",
        "owner_id": "u-1",
    }
    assert parse_id(WORK, work.summary()["id"]) == work.id
    assert work.pages == ["p1.png"]


# Ids --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [MIGRATION, WORK, USER])
def test_a_public_id_round_trips(kind: str) -> None:
    uuid = uuid4()

    public_id = format_id(kind, uuid)

    assert public_id == f"{kind}-{uuid.hex}"
    assert len(public_id) == 34
    assert parse_id(kind, public_id) == uuid


def test_an_id_of_another_kind_is_refused() -> None:
    work_id = format_id(WORK, uuid4())

    with pytest.raises(InvalidIdError, match=f"'{work_id}' is not a valid id \\(expected m-"):
        parse_id(MIGRATION, work_id)


@pytest.mark.parametrize(
    "public_id",
    [
        "",
        "m-",
        "m" + "a" * 32,
        "m-" + "a" * 31,
        "m-" + "a" * 33,
        "m-" + "A" * 32,
        "m-" + "g" * 32,
        "M-" + "a" * 32,
        " m-" + "a" * 32,
        "m-" + str(UUID(int=1)),
    ],
)
def test_a_malformed_id_is_refused(public_id: str) -> None:
    with pytest.raises(InvalidIdError):
        parse_id(MIGRATION, public_id)


def test_an_id_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(InvalidIdError):
        parse_id(MIGRATION, "m-" + "a" * 32 + "\n")


def test_an_invalid_id_is_a_value_error_and_a_domain_error() -> None:
    with pytest.raises(ValueError):
        parse_id(USER, "nope")
    with pytest.raises(DomainError):
        parse_id(USER, "nope")
