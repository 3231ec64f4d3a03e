"""Users: registration, sign-in, API tokens and the caller a token stands for."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from application.errors import ConflictError, InvalidInputError, NotAuthenticatedError
from application.event_log import EventLog
from application.passwords import check_password, hash_password, new_token, token_digest
from domain.errors import DomainError
from domain.ids import USER, format_id
from domain.user import Role, User


@dataclass(frozen=True)
class Caller:
    """Who is asking: a user id and role."""

    user_id: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def can_deploy(self) -> bool:
        return self.role in (Role.AUTHOR, Role.ADMIN)


@dataclass(frozen=True)
class UserView:
    id: str
    email: str
    role: str


@dataclass(frozen=True)
class SignedIn:
    token: str
    user: UserView


class Users:
    """Use cases of users and their credentials."""

    CACHE_SECONDS = 30.0

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._cache: dict[str, tuple[float, Caller]] = {}
        self._cache_lock = threading.Lock()

    def register(self, email: str, role: str, password: str) -> UserView:
        if len(password) < 8:
            raise InvalidInputError("password must be at least 8 characters", field="password")
        try:
            user = User.register(email=email, role=role, password_hash=hash_password(password))
        except DomainError as error:
            field = "role" if str(error).startswith("role") else "email"
            raise InvalidInputError(f"{field}: {error}", field=field) from None
        try:
            self.log.save(user)
        except IntegrityError:
            raise ConflictError(f"a user with email {user.email} already exists") from None
        return _view(user)

    def find(self, email: str) -> UserView | None:
        user = self.log.get_or_none(User.create_id(email), User)
        return None if user is None else _view(user)

    def issue_token(self, user_id: str) -> str:
        user = self._get(UUID(hex=user_id[2:]))
        token = new_token(user.id.hex)
        user.issue_token(token_digest(token))
        self.log.save(user)
        return token

    def sign_in(self, email: str, password: str) -> SignedIn:
        user = self.log.get_or_none(User.create_id(email), User)
        if user is None or not check_password(password, user.password_hash):
            raise NotAuthenticatedError("Unable to log in with provided credentials.")
        token = new_token(user.id.hex)
        user.issue_token(token_digest(token))
        self.log.save(user)
        return SignedIn(token=token, user=_view(user))

    def sign_out(self, token: str) -> None:
        caller = self.authenticate(token)
        user = self._get(UUID(hex=caller.user_id[2:]))
        user.revoke_token(token_digest(token))
        self.log.save(user)
        with self._cache_lock:
            self._cache.pop(token, None)

    def cached(self, token: str) -> Caller | None:
        """The caller behind a token checked in the last CACHE_SECONDS, without a store read."""
        with self._cache_lock:
            cached = self._cache.get(token)
        return cached[1] if cached is not None and cached[0] > time.monotonic() else None

    def authenticate(self, token: str) -> Caller:
        """The caller behind an API token; a short cache spares a load per request."""
        cached = self.cached(token)
        if cached is not None:
            return cached
        user_hex, _, _ = token.partition(".")
        try:
            user_id = UUID(hex=user_hex)
        except ValueError:
            raise NotAuthenticatedError("Invalid token.") from None
        user = self.log.get_or_none(user_id, User, to_read=True)
        if user is None or token_digest(token) not in user.token_hashes:
            raise NotAuthenticatedError("Invalid token.")
        caller = Caller(user_id=user.public_id, role=user.role)
        with self._cache_lock:
            self._cache[token] = (time.monotonic() + self.CACHE_SECONDS, caller)
        return caller

    def _get(self, user_id: UUID) -> User:
        user = self.log.get_or_none(user_id, User)
        if user is None:
            raise NotAuthenticatedError(f"no user {format_id(USER, user_id)}")
        return user  # type: ignore[no-any-return]


def _view(user: User) -> UserView:
    return UserView(id=user.public_id, email=user.email, role=user.role)
