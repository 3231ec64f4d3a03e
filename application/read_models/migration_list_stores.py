"""The migration list rows in SQL: shared statements, bound to SQLite and to PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, Tracking

from application.read_models.generations import PostgresGenerations, SQLiteGenerations
from application.read_models.migration_list import (
    ListPage,
    ListQuery,
    ListRow,
    MigrationListView,
)

TABLE = "migration_list"
COUNTS = "migration_list_tallies"
COLUMNS = ("id", "work_id", "owner_id", "status", "type", "created", "updated", "version")
ALL_COLUMNS = (*COLUMNS, "detail", "state")


def _row_params(row: ListRow) -> tuple[Any, ...]:
    return (
        row.id,
        row.work_id,
        row.owner_id,
        row.status,
        row.type,
        row.created,
        row.updated,
        row.version,
        row.detail,
        row.state,
    )


class SqlMigrationListView(MigrationListView):
    model = "migration_list"
    base_tables = (TABLE, COUNTS)

    def table_ddl(self, generation: int) -> list[str]:
        table = self.table(TABLE, generation)
        index = f"{TABLE}_g{generation}"
        return [
            f"CREATE TABLE IF NOT EXISTS {table} ("
            "id TEXT PRIMARY KEY, work_id TEXT NOT NULL, owner_id TEXT NOT NULL, "
            "status TEXT NOT NULL, type TEXT NOT NULL, created TEXT NOT NULL, "
            "updated TEXT NOT NULL, version INTEGER NOT NULL, detail TEXT NOT NULL, "
            f"state {self.blob} NOT NULL)",
            # One index per filter the list offers, each ending in the page's order, so that a
            # page (and a count of a filtered list) reads only the rows it returns or counts.
            f"CREATE INDEX IF NOT EXISTS {index}_created ON {table} (created DESC, id DESC)",
            f"CREATE INDEX IF NOT EXISTS {index}_owner ON {table} "
            "(owner_id, created DESC, id DESC)",
            f"CREATE INDEX IF NOT EXISTS {index}_owner_status ON {table} "
            "(owner_id, status, created DESC, id DESC)",
            f"CREATE INDEX IF NOT EXISTS {index}_owner_work ON {table} "
            "(owner_id, work_id, created DESC, id DESC)",
            f"CREATE INDEX IF NOT EXISTS {index}_work ON {table} (work_id, created DESC, id DESC)",
            f"CREATE INDEX IF NOT EXISTS {index}_status ON {table} (status, created DESC, id DESC)",
            f"CREATE INDEX IF NOT EXISTS {index}_status_updated ON {table} (status, updated)",
            # Counts by owner and status, so a page's count does not grow with the store.
            f"CREATE TABLE IF NOT EXISTS {self.table(COUNTS, generation)} ("
            "owner_id TEXT NOT NULL, work_id TEXT NOT NULL, status TEXT NOT NULL, "
            "n INTEGER NOT NULL, PRIMARY KEY (owner_id, work_id, status))",
            f"CREATE INDEX IF NOT EXISTS {index}_tallies_work ON "
            f"{self.table(COUNTS, generation)} (work_id, status)",
        ]

    def load_states(self, ids: Sequence[str]) -> dict[str, tuple[int, bytes]]:
        if not ids:
            return {}
        with self.cursor(commit=False) as c:
            c.execute(
                f"SELECT id, version, state FROM {self.table(TABLE)} "
                f"WHERE id IN {self.in_list(ids)}",
                list(ids),
            )
            return {row["id"]: (row["version"], bytes(row["state"])) for row in c.fetchall()}

    def save_rows(
        self,
        rows: Sequence[ListRow],
        counts: dict[tuple[str, str, str], int],
        tracking: Tracking,
    ) -> None:
        updates = ", ".join(f"{name} = excluded.{name}" for name in ALL_COLUMNS if name != "id")
        upsert = (
            f"INSERT INTO {self.table(TABLE)} ({', '.join(ALL_COLUMNS)}) "
            f"VALUES ({self.marks(self.mark, len(ALL_COLUMNS))}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}"
        )
        add = (
            f"INSERT INTO {self.table(COUNTS)} (owner_id, work_id, status, n) "
            f"VALUES ({self.marks(self.mark, 4)}) ON CONFLICT (owner_id, work_id, status) "
            f"DO UPDATE SET n = {self.table(COUNTS)}.n + excluded.n"
        )
        with self.cursor(commit=True) as c:
            if rows:
                c.executemany(upsert, [_row_params(row) for row in rows])
            if counts:
                c.executemany(add, [(*key, n) for key, n in counts.items()])
            self._insert_tracking(c, tracking)

    def page(self, query: ListQuery) -> ListPage:
        self.refresh()
        return self.reading(lambda: self._page(query))

    def _page(self, query: ListQuery) -> ListPage:
        where, params = self._where(query)
        table = self.table(TABLE)
        with self.cursor(commit=False) as c:
            if query.type or query.created_after or query.created_before:
                c.execute(f"SELECT COUNT(*) AS n FROM {table}{where}", params)
            else:  # owner, work and status filters: the maintained counts answer at once
                c.execute(
                    f"SELECT COALESCE(SUM(n), 0) AS n FROM {self.table(COUNTS)}{where}", params
                )
            count = int(c.fetchone()["n"])
            c.execute(
                f"SELECT detail FROM {table}{where} ORDER BY created DESC, id DESC "
                f"LIMIT {self.mark} OFFSET {self.mark}",
                [*params, query.limit, query.offset],
            )
            return ListPage(count=count, details=[row["detail"] for row in c.fetchall()])

    def ids_with_status(
        self,
        statuses: Sequence[str],
        updated_before: str | None = None,
        limit: int | None = None,
    ) -> list[str]:
        self.refresh()
        return self.reading(lambda: self._ids_with_status(statuses, updated_before, limit))

    def _ids_with_status(
        self, statuses: Sequence[str], updated_before: str | None, limit: int | None
    ) -> list[str]:
        params: list[Any] = list(statuses)
        sql = f"SELECT id FROM {self.table(TABLE)} WHERE status IN {self.in_list(statuses)}"
        if updated_before is not None:
            sql += f" AND updated < {self.mark}"
            params.append(updated_before)
        sql += " ORDER BY created"
        if limit is not None:
            sql += f" LIMIT {self.mark}"
            params.append(limit)
        with self.cursor(commit=False) as c:
            c.execute(sql, params)
            return [row["id"] for row in c.fetchall()]

    def count_by_status(self) -> dict[str, int]:
        self.refresh()
        with self.cursor(commit=False) as c:
            c.execute(f"SELECT status, SUM(n) AS n FROM {self.table(COUNTS)} GROUP BY status")
            return {row["status"]: int(row["n"]) for row in c.fetchall()}

    def ensure_counts(self) -> None:
        """Fill the counts of a list made before they existed (else they stay as they are)."""
        counts, table = self.table(COUNTS), self.table(TABLE)
        with self.cursor(commit=True) as c:
            c.execute(f"SELECT COUNT(*) AS n FROM {counts}")
            if int(c.fetchone()["n"]) == 0:
                c.execute(
                    f"INSERT INTO {counts} (owner_id, work_id, status, n) "
                    f"SELECT owner_id, work_id, status, COUNT(*) FROM {table} "
                    "GROUP BY owner_id, work_id, status"
                )

    def sample_ids(self, count: int) -> list[str]:
        with self.cursor(commit=False) as c:
            c.execute(
                f"SELECT id FROM {self.table(TABLE)} ORDER BY RANDOM() LIMIT {self.mark}", (count,)
            )
            return [row["id"] for row in c.fetchall()]

    def details(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        with self.cursor(commit=False) as c:
            c.execute(
                f"SELECT id, detail FROM {self.table(TABLE)} WHERE id IN {self.in_list(ids)}",
                list(ids),
            )
            return {row["id"]: row["detail"] for row in c.fetchall()}

    def _where(self, query: ListQuery) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value, op in (
            ("owner_id", query.owner_id, "="),
            ("status", query.status, "="),
            ("work_id", query.work_id, "="),
            ("type", query.type, "="),
            ("created", query.created_after, ">"),
            ("created", query.created_before, "<"),
        ):
            if value is not None:
                clauses.append(f"{column} {op} {self.mark}")
                params.append(value)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


class SQLiteMigrationListView(SQLiteGenerations, SqlMigrationListView):
    pass


class PostgresMigrationListView(PostgresGenerations, SqlMigrationListView):
    pass


def construct_list_view(env: dict[str, str]) -> SqlMigrationListView:
    """The list view on the store `env` names (SQLite file or PostgreSQL schema)."""
    factory = InfrastructureFactory.construct(env)
    view_class: type[Any] = (
        PostgresMigrationListView
        if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
        else SQLiteMigrationListView
    )
    view = factory.tracking_recorder(view_class)
    assert isinstance(view, SqlMigrationListView)
    view.refresh(force=True)
    view.ensure_counts()
    return view
