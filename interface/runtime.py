"""Builds a running engine from Settings: producers, work content, executor, projection, demo."""

from __future__ import annotations

import importlib
import json
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from application.engine import Engine
from application.errors import ApplicationError
from application.execution import WorkerIdentity
from application.ports import OutputProducer
from application.settings import Settings
from application.users import Caller
from interface.storage.artifacts import LocalArtifactStore
from interface.storage.work_bundles import read_bundle
from interface.storage.work_content import LocalWorkContent
from interface.worker.in_process import InProcessExecutor

logger = logging.getLogger(__name__)

SAMPLE_WORK = Path(__file__).resolve().parent.parent / "examples" / "sample-work"
DEMO_EMAIL = "demo-author@example.com"
DEMO_PASSWORD = "demo-password"


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    artifacts: LocalArtifactStore
    executor: InProcessExecutor | None = None
    sweeps: bool = False

    def start(self) -> None:
        """Begin serving: keep the list current and finish what a previous process left."""
        read_models = self.engine.read_models
        if self.settings.projections == "inline":
            read_models.catch_up()
            read_models.run_polling(self.settings.projection_poll_interval)
        if self.executor is not None:
            # Embedded mode: this process is the only worker, so whatever a previous one left
            # unfinished is taken over now rather than when its lease runs out.
            recovered = self.executor.recover(self.engine.migrations.unfinished())
            if recovered:
                logger.info("dispatched %d unfinished migration(s) again", recovered)
        if self.sweeps:
            self.engine.sweeper.run_every(self.settings.sweep_interval)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown()
        self.engine.close()


def build_runtime(settings: Settings, *, with_executor: bool = True) -> Runtime:
    """An engine on `settings`; `with_executor` makes it dispatch: to Celery when a broker is
    set, else to an in-process thread pool (which also sweeps and recovers at start)."""
    settings.ensure_dirs()
    artifacts = LocalArtifactStore(settings.outputs_dir)
    identity = WorkerIdentity(host=settings.public_host or socket.gethostname())
    engine = Engine(
        settings,
        producers=load_producers(settings.producers, artifacts),
        work_content=LocalWorkContent(settings.works_dir),
        identity=identity,
    )
    runtime = Runtime(settings=settings, engine=engine, artifacts=artifacts)
    for projection in engine.read_models.projections.values():
        projection.inline = settings.projections == "inline"
    if with_executor and settings.broker_url:
        from interface.worker.celery_app import CeleryDispatcher, create_celery

        engine.use_dispatcher(CeleryDispatcher(create_celery(settings), settings.queue))
    elif with_executor:
        # Embedded, this process is the only worker: start-up takes over what it left, so its
        # attempts need no leases (two fewer writes per migration).
        engine.runner.leases = None
        runtime.executor = InProcessExecutor(engine.runner, settings.workers)
        engine.use_dispatcher(runtime.executor)
        runtime.sweeps = True
    return runtime


def load_producers(spec: str, artifacts: LocalArtifactStore) -> dict[str, OutputProducer]:
    """Producers from a "module:function" taking the artifact store (settings.producers)."""
    module_name, _, function_name = spec.partition(":")
    factory = getattr(importlib.import_module(module_name), function_name or "build_producers")
    producers: dict[str, OutputProducer] = factory(artifacts)
    return producers


@dataclass(frozen=True)
class Demo:
    email: str
    password: str
    work_id: str
    token: str


def ensure_demo(runtime: Runtime) -> Demo:
    """A demo author and the sample work, created on first start; a fresh token every start."""
    engine = runtime.engine
    state_file = runtime.settings.data_dir / "demo.json"
    user = engine.users.find(DEMO_EMAIL)
    if user is None:
        user = engine.users.register(DEMO_EMAIL, "author", DEMO_PASSWORD)
    work_id = None
    if state_file.exists():
        work_id = json.loads(state_file.read_text()).get("work_id")
    caller = Caller(user.id, user.role)
    if work_id is not None:
        try:
            engine.works.get(caller, work_id)
        except ApplicationError:
            work_id = None  # the file belongs to another store: import the sample again
    if work_id is None:
        manifest, files = read_bundle(SAMPLE_WORK)
        work = engine.works.register(caller, manifest, files)
        work_id = work.id
        state_file.write_text(json.dumps({"email": DEMO_EMAIL, "work_id": work_id}))
    return Demo(DEMO_EMAIL, DEMO_PASSWORD, work_id, engine.users.issue_token(user.id))
