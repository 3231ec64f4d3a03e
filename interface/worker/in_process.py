"""The embedded executor: migrations run in a thread pool inside the server process."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from application.execution import MigrationRunner

logger = logging.getLogger(__name__)


class InProcessExecutor:
    """Runs each dispatched migration on one of `threads` threads."""

    def __init__(self, runner: MigrationRunner, threads: int) -> None:
        self.runner = runner
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="migration")
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()

    def dispatch(self, migration_id: str, task_id: str, at: datetime | None = None) -> None:
        delay = 0.0 if at is None else (at - datetime.now(UTC)).total_seconds()
        if delay <= 0:
            self._submit(migration_id, False)
            return
        # A delayed retry lives in memory only: if the process dies first, start-up recovery
        # (or the sweeper) dispatches the RETRY migration again.
        timer = threading.Timer(delay, self._submit, args=(migration_id, False))
        timer.daemon = True
        with self._lock:
            self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def _submit(self, migration_id: str, takeover: bool) -> None:
        with contextlib.suppress(RuntimeError):  # the pool shut down: recovered at next start
            self._pool.submit(self._run, migration_id, takeover)

    def recover(self, migration_ids: Iterable[str]) -> int:
        """Dispatch again what a previous process left unfinished; its attempts are taken over."""
        count = 0
        for migration_id in migration_ids:
            self._submit(migration_id, True)
            count += 1
        return count

    def _run(self, migration_id: str, takeover: bool) -> None:
        try:
            status = self.runner.run(migration_id, takeover=takeover)
            logger.info("migration %s: %s", migration_id, status)
        except Exception:  # a store outage: the migration stays unfinished and is recovered later
            logger.exception("migration %s could not be run", migration_id)

    def shutdown(self) -> None:
        with self._lock:
            for timer in self._timers:
                timer.cancel()
        # Queued migrations are dropped here and recovered on the next start (they are PENDING).
        self._pool.shutdown(wait=True, cancel_futures=True)
