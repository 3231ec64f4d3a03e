"""The engine: the event log, read models and use cases, built from one Settings object."""

from __future__ import annotations

from collections.abc import Mapping

from application.audit import Audit
from application.event_log import EventLog
from application.execution import MigrationRunner, WorkerIdentity
from application.leases import construct_lease_store
from application.migrations import Migrations
from application.ports import Dispatcher, OutputProducer, WorkContent
from application.read_models.migration_list import MigrationListProjection
from application.read_models.migration_list_stores import construct_list_view
from application.read_models.operations import ReadModels
from application.read_models.work_summary import WorkSummaryProjection
from application.read_models.work_summary_stores import construct_work_summary_view
from application.settings import Settings
from application.sweeper import Sweeper
from application.users import Users
from application.works import Works


class Engine:
    """Everything one process needs; the interface layer plugs in producers and an executor."""

    def __init__(
        self,
        settings: Settings,
        producers: Mapping[str, OutputProducer],
        work_content: WorkContent,
        identity: WorkerIdentity | None = None,
    ) -> None:
        self.settings = settings
        self.log = EventLog(env=settings.event_store_env())
        self.list_projection = MigrationListProjection(
            self.log, construct_list_view(settings.read_model_env())
        )
        self.users = Users(self.log)
        self.works = Works(self.log, work_content)
        self.migrations = Migrations(
            self.log,
            self.works,
            self.list_projection,
            available_outputs=frozenset(producers),
            read_your_writes_timeout=settings.read_your_writes_timeout,
        )
        view = self.list_projection.view
        self.leases = construct_lease_store(getattr(view, "datastore", None))
        self.runner = MigrationRunner(
            self.log,
            self.works,
            producers,
            identity,
            leases=self.leases,
            policy=settings.retry_policy(),
            lease_ttl=settings.lease_ttl,
        )
        self.sweeper = Sweeper(
            self.log,
            self.leases,
            self.list_projection,
            self.runner,
            settings.retry_policy(),
            stale_after=settings.stale_after,
        )

        self.work_summary = WorkSummaryProjection(
            self.log, construct_work_summary_view(self.list_projection.view)
        )
        self.read_models = ReadModels(self.log, [self.list_projection, self.work_summary])
        self.audit = Audit(self.log, self.migrations, self.list_projection)

    def use_dispatcher(self, dispatcher: Dispatcher) -> None:
        """Where new, retried and recovered migrations are sent from now on."""
        self.migrations.dispatcher = dispatcher
        self.runner.dispatcher = dispatcher

    def close(self) -> None:
        self.sweeper.stop()
        self.read_models.stop()
        self.list_projection.view.close()  # the other views share its connections
        self.log.close()
