"""Public ids: a one-letter kind, a dash and the aggregate's UUID as 32 hex digits."""

from __future__ import annotations

import re
from uuid import UUID

from domain.errors import InvalidIdError

MIGRATION = "m"
WORK = "w"
USER = "u"

_PATTERN = re.compile(r"^([a-z])-([0-9a-f]{32})$")


def format_id(kind: str, uuid: UUID) -> str:
    return f"{kind}-{uuid.hex}"


def parse_id(kind: str, public_id: str) -> UUID:
    """The UUID behind `public_id`, which must be of `kind` (e.g. "m-<32 hex>")."""
    match = _PATTERN.fullmatch(public_id)
    if match is None or match.group(1) != kind:
        raise InvalidIdError(f"'{public_id}' is not a valid id (expected {kind}-<32 hex digits>)")
    return UUID(hex=match.group(2))
