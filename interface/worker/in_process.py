"""The embedded executor: migrations run in a thread pool inside the server process."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from application.execution import MigrationRunner

logger = logging.getLogger(__name__)


class InProcessExecutor:
    """Runs each dispatched migration on one of `threads` threads."""

    def __init__(self, runner: MigrationRunner, threads: int) -> None:
        self.runner = runner
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="migration")

    def dispatch(self, migration_id: str) -> None:
        self._pool.submit(self._run, migration_id, False)

    def recover(self, migration_ids: Iterable[str]) -> int:
        """Dispatch again what a previous process left unfinished; its attempts are taken over."""
        count = 0
        for migration_id in migration_ids:
            self._pool.submit(self._run, migration_id, True)
            count += 1
        return count

    def _run(self, migration_id: str, takeover: bool) -> None:
        try:
            status = self.runner.run(migration_id, takeover=takeover)
            logger.info("migration %s: %s", migration_id, status)
        except Exception:  # a store outage: the migration stays unfinished and is recovered later
            logger.exception("migration %s could not be run", migration_id)

    def shutdown(self) -> None:
        # Queued migrations are dropped here and recovered on the next start (they are PENDING).
        self._pool.shutdown(wait=True, cancel_futures=True)
