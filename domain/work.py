"""The Work aggregate: a comic registered by its owner, with its pages in reading order."""

from __future__ import annotations

from eventsourcing.domain import Aggregate, event


class Work(Aggregate):
    TOPIC = "work"

    @event("Created", topic="work.registered")
    def __init__(self, *, name: str, sub_name: str, owner_id: str, pages: list[str]) -> None:
        self.name = name
        self.sub_name = sub_name
        self.owner_id = owner_id
        self.pages = pages

    @property
    def public_id(self) -> str:
        return f"w-{self.id.hex}"

    def summary(self) -> dict[str, str]:
        """The work as a migration records it: id, name, sub_name, owner_id."""
        return {
            "id": self.public_id,
            "name": self.name,
            "sub_name": self.sub_name,
            "owner_id": self.owner_id,
        }
