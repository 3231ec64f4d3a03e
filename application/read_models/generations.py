"""Read-model tables in generations: readers use the current one; a rebuild fills the next from
the log, then switches readers over in one transaction and drops the old one."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Self, TypeVar

from eventsourcing.persistence import OperationalError, ProgrammingError, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg.sql import SQL, Composed

POINTER = "read_model_generations"
T = TypeVar("T")
REFRESH_SECONDS = 0.5
"""How long a reader trusts the generation it last read (a switch shows within this)."""
DROP_AFTER_SECONDS = 3 * REFRESH_SECONDS
"""How long the old generation outlives a switch, for readers that have not seen it yet."""


class GenerationalView(ABC):
    """SQL shared by SQLite and PostgreSQL views; subclasses bind it to a tracking recorder."""

    model: ClassVar[str]
    base_tables: ClassVar[tuple[str, ...]]
    mark: ClassVar[str]
    blob: ClassVar[str]

    generation: int = 1
    follows_pointer: bool = True
    """False for a generation being built: it must not jump to the one readers use."""
    _checked_at: float = 0.0

    # Provided by the eventsourcing tracking recorder each concrete view also derives from.
    datastore: Any

    @abstractmethod
    def max_tracking_id(self, application_name: str) -> int | None:
        """The tracking recorder's position for `application_name`."""

    @abstractmethod
    def _insert_tracking(self, c: Any, tracking: Tracking) -> None:
        """Record a tracking position within the cursor's transaction."""

    @abstractmethod
    def qualify(self, name: str) -> str:
        """A table name as SQL should write it (schema-qualified on PostgreSQL)."""

    @abstractmethod
    def table_ddl(self, generation: int) -> list[str]:
        """Statements creating this generation's tables (IF NOT EXISTS)."""

    @abstractmethod
    def sibling(self, generation: int) -> Self:
        """A view of the same model on the same store, at another generation."""

    def table(self, base: str, generation: int | None = None) -> str:
        generation = self.generation if generation is None else generation
        return self.qualify(base if generation == 1 else f"{base}_g{generation}")

    @property
    def tracking_name(self) -> str:
        return f"{self.model}@{self.generation}"

    @property
    def position(self) -> int:
        return self.max_tracking_id(self.tracking_name) or 0

    def pointer_ddl(self) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {self.qualify(POINTER)} "
            "(name TEXT PRIMARY KEY, generation INTEGER NOT NULL)"
        )

    @contextmanager
    def cursor(self, *, commit: bool) -> Iterator[Any]:
        with self.datastore.transaction(commit=commit) as c:
            yield c

    def read_generation(self) -> int:
        with self.cursor(commit=False) as c:
            c.execute(
                f"SELECT generation FROM {self.qualify(POINTER)} WHERE name = {self.mark}",
                (self.model,),
            )
            row = c.fetchone()
        return 1 if row is None else int(row["generation"])

    def refresh(self, *, force: bool = False) -> int:
        """Follow the pointer (at most every REFRESH_SECONDS unless forced)."""
        now = time.monotonic()
        if not self.follows_pointer:
            return self.generation
        if force or now - self._checked_at > REFRESH_SECONDS:
            self.generation = self.read_generation()
            self._checked_at = now
        return self.generation

    def create_generation(self, generation: int) -> None:
        self.drop_generation(generation)  # leftovers of an interrupted rebuild
        with self.cursor(commit=True) as c:
            for statement in self.table_ddl(generation):
                c.execute(statement)

    def switch(self, generation: int) -> None:
        """Point readers at `generation`, atomically."""
        with self.cursor(commit=True) as c:
            c.execute(
                f"INSERT INTO {self.qualify(POINTER)} (name, generation) "
                f"VALUES ({self.mark}, {self.mark}) "
                "ON CONFLICT (name) DO UPDATE SET generation = excluded.generation",
                (self.model, generation),
            )
        self.refresh(force=True)

    def analyze(self, generation: int) -> None:
        """Refresh the planner's statistics of a generation's tables (PostgreSQL plans a bulk-
        loaded table without them as if it were nearly empty)."""
        with self.cursor(commit=True) as c:
            for base in self.base_tables:
                c.execute(f"ANALYZE {self.table(base, generation)}")

    def drop_generation(self, generation: int) -> None:
        with self.cursor(commit=True) as c:
            for base in self.base_tables:
                c.execute(f"DROP TABLE IF EXISTS {self.table(base, generation)}")

    def close(self) -> None:
        self.datastore.close()

    def reading(self, query: Callable[[], T]) -> T:
        """Run a read; if its generation was dropped under it, follow the pointer and retry."""
        try:
            return query()
        except (OperationalError, ProgrammingError):
            before = self.generation
            if self.refresh(force=True) == before:
                raise
            return query()

    @staticmethod
    def marks(mark: str, count: int) -> str:
        return ", ".join([mark] * count)

    def in_list(self, values: Sequence[Any]) -> str:
        return f"({self.marks(self.mark, len(values))})"


class SQLiteGenerations(SQLiteTrackingRecorder, GenerationalView):
    """Binds a view to SQLite: its tables are created with the tracking table."""

    mark = "?"
    blob = "BLOB"

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            self.pointer_ddl(),
            *self.table_ddl(1),
        ]

    def qualify(self, name: str) -> str:
        return name

    def sibling(self, generation: int) -> Self:
        view = type(self)(datastore=self.datastore)
        view.generation = generation
        view.follows_pointer = False
        return view


class PostgresGenerations(PostgresTrackingRecorder, GenerationalView):
    """Binds a view to PostgreSQL: its tables live in the store's schema."""

    mark = "%s"
    blob = "BYTEA"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.extend(
            Composed([SQL(statement)]) for statement in (self.pointer_ddl(), *self.table_ddl(1))
        )

    def qualify(self, name: str) -> str:
        return f'"{self.datastore.schema}".{name}'

    def sibling(self, generation: int) -> Self:
        view = type(self)(datastore=self.datastore, tracking_table_name=self.tracking_table_name)
        view.generation = generation
        view.follows_pointer = False
        return view
