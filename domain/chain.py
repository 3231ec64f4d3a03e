"""Tamper evidence: each event of a migration carries a hash chaining it to the one before."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Fields every event has, which are not its data (the version and time are hashed apart).
NOT_DATA = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "chain"}
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot hash a {type(value).__name__}")


def link(
    previous: str | None, topic: str, version: int, timestamp: datetime, data: Mapping[str, Any]
) -> str:
    """The hash of one event: its place, time and data, and the hash of the event before it."""
    body = json.dumps(
        {
            "previous": previous,
            "topic": topic,
            "version": version,
            "timestamp": timestamp.isoformat(),
            "data": {k: v for k, v in data.items() if k not in NOT_DATA},
        },
        sort_keys=True,
        separators=(",", ":"),
        default=_jsonable,
    )
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class ChainFinding:
    """One event whose hash is missing (written before the chain existed) or does not match."""

    version: int
    topic: str
    kind: str
    """"unchained" (no hash: an event older than the chain) or "broken" (data or order changed)."""


def check_chain(events: Iterable[Any]) -> list[ChainFinding]:
    """Recompute each event's hash from its data and the previous event's stored hash."""
    findings: list[ChainFinding] = []
    previous: str | None = None
    for event in events:
        topic = type(event).TOPIC
        stored = getattr(event, "chain", None)
        if stored is None:
            findings.append(ChainFinding(event.originator_version, topic, "unchained"))
        elif stored != link(
            previous, topic, event.originator_version, event.timestamp, vars(event)
        ):
            findings.append(ChainFinding(event.originator_version, topic, "broken"))
        previous = stored
    return findings
