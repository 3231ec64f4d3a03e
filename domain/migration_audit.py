"""Auditing a migration's history: is each event a legal step from the state before it?"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from domain.migration import OUTPUTS, TERMINAL, Status, requested_outputs

_UNFINISHED = {Status.PENDING, Status.STARTED, Status.RETRY}


@dataclass(frozen=True)
class IllegalStep:
    version: int
    topic: str
    reason: str


def check_sequence(events: Iterable[Any]) -> list[IllegalStep]:
    """Every step the guards of Migration would have refused, or a gap in the versions."""
    problems: list[IllegalStep] = []
    status: Status | None = None
    attempts = 0
    requested: tuple[str, ...] = ()
    produced: set[str] = set()
    expected_version = 1
    for event in events:
        topic = type(event).TOPIC
        version = event.originator_version

        def refuse(reason: str, version: int = version, topic: str = topic) -> None:
            problems.append(IllegalStep(version, topic, reason))

        if version != expected_version:
            refuse(f"version {version} follows version {expected_version - 1}")
        expected_version = version + 1
        kind = topic.removeprefix("migration.")
        if kind == "created":
            if status is not None:
                refuse("created twice")
            status, requested = Status.PENDING, requested_outputs(event.features)
        elif status is None:
            refuse("an event before the migration was created")
        elif kind == "started":
            if status not in (Status.PENDING, Status.RETRY, Status.STARTED):
                refuse(f"started while {status}")
            if event.attempt != attempts + 1:
                refuse(f"attempt {event.attempt} after attempt {attempts}")
            status, attempts = Status.STARTED, event.attempt
        elif kind == "output_produced":
            if status != Status.STARTED:
                refuse(f"output produced while {status}")
            if event.name not in requested or event.name not in OUTPUTS:
                refuse(f"output '{event.name}' was not requested")
            if event.name in produced:
                refuse(f"output '{event.name}' produced twice")
            produced.add(event.name)
        elif kind == "retry_scheduled":
            if status != Status.STARTED:
                refuse(f"retry scheduled while {status}")
            status = Status.RETRY
        elif kind == "failed":
            if status not in _UNFINISHED:
                refuse(f"failed while {status}")
            status = Status.FAILURE
        elif kind == "completed":
            missing = [name for name in requested if name not in produced]
            if status != Status.STARTED or missing:
                refuse(f"completed while {status}" + (f", missing {missing}" if missing else ""))
            status = Status.SUCCESS
        elif kind == "revoked":
            if status in TERMINAL:
                refuse(f"revoked while {status}")
            status = Status.REVOKED
        elif kind == "retry_requested":
            if status != Status.FAILURE:
                refuse(f"retry requested while {status}")
            status = Status.PENDING
        else:
            refuse(f"unknown event type '{topic}'")
    return problems
