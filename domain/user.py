"""The User aggregate: a reader, author or admin, with a password hash and API token hashes."""

from __future__ import annotations

from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError


class Role(StrEnum):
    READER = "reader"
    AUTHOR = "author"
    ADMIN = "admin"


DEPLOYING_ROLES = frozenset({Role.AUTHOR, Role.ADMIN})


class User(Aggregate):
    TOPIC = "user"

    @staticmethod
    def create_id(email: str) -> UUID:
        # One user per email: a second registration of the same address conflicts on save.
        return uuid5(NAMESPACE_URL, f"/users/{email.strip().lower()}")

    @classmethod
    def register(cls, *, email: str, role: str, password_hash: str) -> User:
        email = email.strip().lower()
        local, _, host = email.partition("@")
        if not local or "." not in host or " " in email or len(email) > 254:
            raise DomainError(f"'{email}' is not a valid email address")
        if role not in {r.value for r in Role}:
            raise DomainError(f"role must be one of: {', '.join(r.value for r in Role)}")
        return cls(email=email, role=role, password_hash=password_hash)

    @event("Created", topic="user.registered")
    def __init__(self, *, email: str, role: str, password_hash: str) -> None:
        self.email = email
        self.role = role
        self.password_hash = password_hash
        self.token_hashes: list[str] = []

    @property
    def public_id(self) -> str:
        return f"u-{self.id.hex}"

    @property
    def can_deploy(self) -> bool:
        return self.role in DEPLOYING_ROLES

    def issue_token(self, token_hash: str) -> None:
        self._token_issued(token_hash=token_hash)

    def revoke_token(self, token_hash: str) -> None:
        if token_hash in self.token_hashes:
            self._token_revoked(token_hash=token_hash)

    @event("TokenIssued", topic="user.token_issued")
    def _token_issued(self, token_hash: str) -> None:
        self.token_hashes.append(token_hash)

    @event("TokenRevoked", topic="user.token_revoked")
    def _token_revoked(self, token_hash: str) -> None:
        self.token_hashes.remove(token_hash)
