"""The migration list rows in SQL: one implementation for SQLite, one for PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg.sql import SQL, Composed

from application.read_models.migration_list import (
    ListPage,
    ListQuery,
    ListRow,
    MigrationListView,
)

TABLE = "migration_list"
COLUMNS = ("id", "work_id", "owner_id", "status", "type", "created", "updated", "version")


def _create_statements(table: str, blob_type: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "id TEXT PRIMARY KEY, work_id TEXT NOT NULL, owner_id TEXT NOT NULL, "
        "status TEXT NOT NULL, type TEXT NOT NULL, created TEXT NOT NULL, "
        "updated TEXT NOT NULL, version INTEGER NOT NULL, detail TEXT NOT NULL, "
        f"state {blob_type} NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_created ON {table} (created DESC, id DESC)",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_owner ON {table} (owner_id, created DESC, id DESC)",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_work ON {table} (work_id, created DESC, id DESC)",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_status ON {table} (status, created DESC, id DESC)",
    ]


def _upsert_statement(table: str, mark: str) -> str:
    names = (*COLUMNS, "detail", "state")
    updates = ", ".join(f"{name} = excluded.{name}" for name in names if name != "id")
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(mark for _ in names)}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )


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


def _where(query: ListQuery, mark: str) -> tuple[str, list[Any]]:
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
            clauses.append(f"{column} {op} {mark}")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


class SQLiteMigrationListView(SQLiteTrackingRecorder, MigrationListView):
    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *_create_statements(TABLE, "BLOB")]

    def load_states(self, ids: Sequence[str]) -> dict[str, tuple[int, bytes]]:
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT id, version, state FROM {TABLE} WHERE id IN ({marks})", list(ids))
            return {row["id"]: (row["version"], bytes(row["state"])) for row in c.fetchall()}

    def save_rows(self, rows: Sequence[ListRow], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            for row in rows:
                c.execute(_upsert_statement(TABLE, "?"), _row_params(row))
            self._insert_tracking(c, tracking)

    def page(self, query: ListQuery) -> ListPage:
        where, params = _where(query, "?")
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT COUNT(*) FROM {TABLE}{where}", params)
            count = int(c.fetchone()[0])
            c.execute(
                f"SELECT detail FROM {TABLE}{where} "
                "ORDER BY created DESC, id DESC LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            )
            return ListPage(count=count, details=[row["detail"] for row in c.fetchall()])

    def close(self) -> None:
        self.datastore.close()

    def ids_with_status(
        self, statuses: Sequence[str], updated_before: str | None = None
    ) -> list[str]:
        marks = ", ".join("?" for _ in statuses)
        params: list[Any] = list(statuses)
        sql = f"SELECT id FROM {TABLE} WHERE status IN ({marks})"
        if updated_before is not None:
            sql += " AND updated < ?"
            params.append(updated_before)
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql + " ORDER BY created", params)
            return [row["id"] for row in c.fetchall()]


class PostgresMigrationListView(PostgresTrackingRecorder, MigrationListView):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.table = f'"{self.datastore.schema}".{TABLE}'
        self.sql_create_statements.extend(
            Composed([SQL(statement)]) for statement in _create_statements(self.table, "BYTEA")
        )

    def load_states(self, ids: Sequence[str]) -> dict[str, tuple[int, bytes]]:
        if not ids:
            return {}
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT id, version, state FROM {self.table} WHERE id = ANY(%s)",
                (list(ids),),
            )
            return {row["id"]: (row["version"], bytes(row["state"])) for row in c.fetchall()}

    def save_rows(self, rows: Sequence[ListRow], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                _upsert_statement(self.table, "%s"),
                [_row_params(row) for row in rows],
            )
            self._insert_tracking(c, tracking)

    def page(self, query: ListQuery) -> ListPage:
        where, params = _where(query, "%s")
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT COUNT(*) AS n FROM {self.table}{where}", params)
            found = c.fetchone()
            count = int(found["n"]) if found else 0
            c.execute(
                f"SELECT detail FROM {self.table}{where} "
                "ORDER BY created DESC, id DESC LIMIT %s OFFSET %s",
                [*params, query.limit, query.offset],
            )
            return ListPage(count=count, details=[row["detail"] for row in c.fetchall()])

    def close(self) -> None:
        self.datastore.close()

    def ids_with_status(
        self, statuses: Sequence[str], updated_before: str | None = None
    ) -> list[str]:
        params: list[Any] = [list(statuses)]
        sql = f"SELECT id FROM {self.table} WHERE status = ANY(%s)"
        if updated_before is not None:
            sql += " AND updated < %s"
            params.append(updated_before)
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql + " ORDER BY created", params)
            return [row["id"] for row in c.fetchall()]


def construct_list_view(env: dict[str, str]) -> MigrationListView:
    """The list view on the store `env` names (SQLite file or PostgreSQL schema)."""
    factory = InfrastructureFactory.construct(env)
    view_class: type[MigrationListView] = (
        PostgresMigrationListView
        if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
        else SQLiteMigrationListView
    )
    view = factory.tracking_recorder(view_class)
    assert isinstance(view, MigrationListView)
    return view
