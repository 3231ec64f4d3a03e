"""Builds a running engine from Settings: producers, work content, executor, projection, demo."""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from application.engine import Engine
from application.execution import WorkerIdentity
from application.settings import Settings
from application.users import Caller
from interface.outputs import build_producers
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

    def start(self) -> None:
        """Begin serving: keep the list current and finish what a previous process left."""
        self.engine.list_projection.catch_up()
        self.engine.list_projection.run_polling(self.settings.projection_poll_interval)
        if self.executor is not None:
            recovered = self.executor.recover(self.engine.migrations.unfinished())
            if recovered:
                logger.info("dispatched %d unfinished migration(s) again", recovered)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown()
        self.engine.close()


def build_runtime(settings: Settings, *, with_executor: bool = True) -> Runtime:
    settings.ensure_dirs()
    artifacts = LocalArtifactStore(settings.outputs_dir)
    identity = WorkerIdentity(host=settings.public_host or socket.gethostname())
    engine = Engine(
        settings,
        producers=build_producers(artifacts),
        work_content=LocalWorkContent(settings.works_dir),
        identity=identity,
    )
    runtime = Runtime(settings=settings, engine=engine, artifacts=artifacts)
    if with_executor:
        runtime.executor = InProcessExecutor(engine.runner, settings.workers)
        engine.use_dispatcher(runtime.executor)
    return runtime


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
    if work_id is None:
        manifest, files = read_bundle(SAMPLE_WORK)
        work = engine.works.register(Caller(user.id, user.role), manifest, files)
        work_id = work.id
        state_file.write_text(json.dumps({"email": DEMO_EMAIL, "work_id": work_id}))
    return Demo(DEMO_EMAIL, DEMO_PASSWORD, work_id, engine.users.issue_token(user.id))
