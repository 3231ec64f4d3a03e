"""The Celery executor: the API enqueues, workers on any host run migrations against the shared
event store. Celery's result backend is not used: the events are the state."""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime
from typing import Any

from celery import Celery, signals

from application.settings import Settings

logger = logging.getLogger(__name__)

TASK_NAME = "migration_engine.run_migration"


def create_celery(settings: Settings) -> Celery:
    app = Celery("migration_engine", broker=settings.broker_url)
    app.conf.update(
        task_acks_late=True,  # a delivery is acknowledged when the attempt has ended
        task_reject_on_worker_lost=True,  # a killed child's delivery goes back to the queue
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_default_queue=settings.queue,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        # Redis hands an unacknowledged delivery out again after this; leases and the sweeper
        # notice a dead worker long before, so this only bounds how long a duplicate lingers.
        broker_transport_options={"visibility_timeout": 3600},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
    )
    app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True)(run_migration)
    return app


class CeleryDispatcher:
    """Sends a delivery of a migration to the queue, under the migration's stable task id."""

    def __init__(self, celery: Celery, queue: str) -> None:
        self.celery = celery
        self.queue = queue

    def dispatch(self, migration_id: str, task_id: str, at: datetime | None = None) -> None:
        self.celery.send_task(
            TASK_NAME, args=[migration_id], task_id=task_id, eta=at, queue=self.queue
        )


# One runtime per worker process, built after the fork: a pool child must not share its
# parent's connections, and the prefork parent must start no threads (its children hang).
_runtime_lock = threading.Lock()
_runtime: Any = None
_runtime_pid: int | None = None
runs_tasks_in_main_process = False
"""Set by `migration-engine worker` for the threads and solo pools."""


def worker_runtime() -> Any:
    """This process's runtime; its sweeper starts with it (several sweepers at once are safe)."""
    from interface.runtime import build_runtime

    global _runtime, _runtime_pid
    with _runtime_lock:
        if _runtime is None or _runtime_pid != os.getpid():
            _runtime = build_runtime(Settings(), with_executor=True)
            _runtime_pid = os.getpid()
            _runtime.engine.sweeper.run_every(_runtime.settings.sweep_interval)
        return _runtime


def run_migration(migration_id: str) -> None:
    """One delivery of a migration: repeated deliveries are harmless (exactly one start)."""
    status = worker_runtime().engine.runner.run(migration_id)
    logger.info("migration %s: %s", migration_id, status)


@signals.worker_process_init.connect  # type: ignore[untyped-decorator]
def _start_in_pool_child(**_: Any) -> None:
    worker_runtime()


@signals.worker_ready.connect  # type: ignore[untyped-decorator]
def _start_in_main_process(**_: Any) -> None:
    if runs_tasks_in_main_process:
        worker_runtime()


@signals.worker_process_shutdown.connect  # type: ignore[untyped-decorator]
@signals.worker_shutdown.connect  # type: ignore[untyped-decorator]
def _close(**_: Any) -> None:
    global _runtime
    with _runtime_lock:
        if _runtime is not None and _runtime_pid == os.getpid():
            _runtime.close()
            _runtime = None
