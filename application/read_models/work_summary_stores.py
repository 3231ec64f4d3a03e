"""The work summary documents in SQL: shared statements, bound to SQLite and to PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder

from application.read_models.generations import PostgresGenerations, SQLiteGenerations
from application.read_models.work_summary import WorkSummaryView

TABLE = "work_summary"


class SqlWorkSummaryView(WorkSummaryView):
    model = "work_summary"
    base_tables = (TABLE,)

    def table_ddl(self, generation: int) -> list[str]:
        table = self.table(TABLE, generation)
        return [
            f"CREATE TABLE IF NOT EXISTS {table} "
            "(key TEXT PRIMARY KEY, work_id TEXT NOT NULL, doc TEXT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_g{generation}_work ON {table} (work_id)",
        ]

    def load(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        with self.cursor(commit=False) as c:
            c.execute(
                f"SELECT key, doc FROM {self.table(TABLE)} WHERE key IN {self.in_list(keys)}",
                list(keys),
            )
            return {row["key"]: json.loads(row["doc"]) for row in c.fetchall()}

    def save(self, docs: dict[str, dict[str, Any]], tracking: Tracking) -> None:
        upsert = (
            f"INSERT INTO {self.table(TABLE)} (key, work_id, doc) "
            f"VALUES ({self.marks(self.mark, 3)}) "
            "ON CONFLICT (key) DO UPDATE SET work_id = excluded.work_id, doc = excluded.doc"
        )
        rows = [
            (key, doc["work_id"], json.dumps(doc, separators=(",", ":")))
            for key, doc in docs.items()
        ]
        with self.cursor(commit=True) as c:
            if rows:
                c.executemany(upsert, rows)
            self._insert_tracking(c, tracking)

    def sample_works(self, count: int | None) -> list[str]:
        # LIKE patterns go in as parameters: a literal % is a placeholder to psycopg.
        sql = (
            f"SELECT work_id FROM {self.table(TABLE)} WHERE key LIKE {self.mark} ORDER BY RANDOM()"
        )
        with self.cursor(commit=False) as c:
            if count is None:
                c.execute(sql, ("w:%",))
            else:
                c.execute(f"{sql} LIMIT {self.mark}", ("w:%", count))
            return [row["work_id"] for row in c.fetchall()]

    def migrations_of(self, work_id: str) -> list[str]:
        with self.cursor(commit=False) as c:
            c.execute(
                f"SELECT key FROM {self.table(TABLE)} "
                f"WHERE work_id = {self.mark} AND key LIKE {self.mark}",
                (work_id, "m:%"),
            )
            return [row["key"] for row in c.fetchall()]


class SQLiteWorkSummaryView(SQLiteGenerations, SqlWorkSummaryView):
    pass


class PostgresWorkSummaryView(PostgresGenerations, SqlWorkSummaryView):
    pass


def construct_work_summary_view(datastore_of: Any) -> SqlWorkSummaryView:
    """The work summary view on the same store (and connections) as `datastore_of`'s view."""
    view: SqlWorkSummaryView
    if isinstance(datastore_of, PostgresTrackingRecorder):
        view = PostgresWorkSummaryView(
            datastore=datastore_of.datastore, tracking_table_name=datastore_of.tracking_table_name
        )
    else:
        view = SQLiteWorkSummaryView(datastore=datastore_of.datastore)
    view.create_table()
    view.refresh(force=True)
    return view
