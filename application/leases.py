"""Attempt leases in SQL beside the read models: a row per running attempt, renewed by heartbeat."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eventsourcing.postgres import PostgresDatastore, PostgresRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteRecorder
from psycopg.sql import SQL, Composed

from application.ports import Lease

TABLE = "attempt_leases"
COLUMNS = "migration_id, attempt, worker_id, host, pid, expires_at"


def _create(table: str, real: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (migration_id TEXT PRIMARY KEY, "
        f"attempt INTEGER NOT NULL, worker_id TEXT NOT NULL, host TEXT NOT NULL, "
        f"pid INTEGER NOT NULL, expires_at {real} NOT NULL)"
    )


def _hold(table: str, mark: str) -> str:
    # A later attempt's lease is never overwritten by a stale worker of an earlier one.
    return (
        f"INSERT INTO {table} ({COLUMNS}) VALUES ({', '.join([mark] * 6)}) "
        "ON CONFLICT (migration_id) DO UPDATE SET attempt = excluded.attempt, "
        "worker_id = excluded.worker_id, host = excluded.host, pid = excluded.pid, "
        f"expires_at = excluded.expires_at WHERE {table}.attempt <= excluded.attempt"
    )


def _params(lease: Lease) -> tuple[Any, ...]:
    return (
        lease.migration_id,
        lease.attempt,
        lease.worker_id,
        lease.host,
        lease.pid,
        lease.expires_at.timestamp(),
    )


def _lease(row: Any) -> Lease:
    return Lease(
        migration_id=row["migration_id"],
        attempt=row["attempt"],
        worker_id=row["worker_id"],
        host=row["host"],
        pid=row["pid"],
        expires_at=datetime.fromtimestamp(row["expires_at"], tz=UTC),
    )


class SQLiteLeaseStore(SQLiteRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [_create(TABLE, "REAL")]

    def hold(self, lease: Lease) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(_hold(TABLE, "?"), _params(lease))

    def release(self, migration_id: str, attempt: int) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"DELETE FROM {TABLE} WHERE migration_id = ? AND attempt = ?",
                (migration_id, attempt),
            )

    def expired(self, now: datetime, limit: int = 100) -> list[Lease]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {COLUMNS} FROM {TABLE} WHERE expires_at < ? ORDER BY expires_at LIMIT ?",
                (now.timestamp(), limit),
            )
            return [_lease(row) for row in c.fetchall()]

    def get(self, migration_id: str) -> Lease | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT {COLUMNS} FROM {TABLE} WHERE migration_id = ?", (migration_id,))
            row = c.fetchone()
            return None if row is None else _lease(row)


class PostgresLeaseStore(PostgresRecorder):
    def __init__(self, datastore: PostgresDatastore) -> None:
        super().__init__(datastore)
        self.table = f'"{datastore.schema}".{TABLE}'
        self.sql_create_statements.append(Composed([SQL(_create(self.table, "DOUBLE PRECISION"))]))

    def hold(self, lease: Lease) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(_hold(self.table, "%s"), _params(lease))

    def release(self, migration_id: str, attempt: int) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"DELETE FROM {self.table} WHERE migration_id = %s AND attempt = %s",
                (migration_id, attempt),
            )

    def expired(self, now: datetime, limit: int = 100) -> list[Lease]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {COLUMNS} FROM {self.table} WHERE expires_at < %s "
                "ORDER BY expires_at LIMIT %s",
                (now.timestamp(), limit),
            )
            return [_lease(row) for row in c.fetchall()]

    def get(self, migration_id: str) -> Lease | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {COLUMNS} FROM {self.table} WHERE migration_id = %s", (migration_id,)
            )
            row = c.fetchone()
            return None if row is None else _lease(row)


def construct_lease_store(datastore: object) -> SQLiteLeaseStore | PostgresLeaseStore:
    """Leases in the same store as the read models (`datastore` of the list view)."""
    store: SQLiteLeaseStore | PostgresLeaseStore
    if isinstance(datastore, PostgresDatastore):
        store = PostgresLeaseStore(datastore)
    elif isinstance(datastore, SQLiteDatastore):
        store = SQLiteLeaseStore(datastore)
    else:
        raise TypeError(f"no lease store for {type(datastore).__name__}")
    store.create_table()
    return store
