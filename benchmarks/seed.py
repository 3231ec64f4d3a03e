"""Fast bulk seeding of a store with migrations, for the benchmarks that need a big log.

    .venv/bin/python -m benchmarks.seed --migrations 100000 \
        --database-url sqlite:////tmp/seed/engine.db --data-dir /tmp/seed/data

Registers one author (with a token) and one work (the sample work, as `import_sample` does),
then builds real Migration aggregates with the domain's own commands (request, start, two
outputs, complete: Created, Started, OutputProduced x2, Completed; a fraction is left
PENDING with only Created) and saves them with `engine.log.save(*aggregates)`, a batch of
aggregates per save (one transaction). Finally the read models catch up from the log in large
batches. Prints the seeding rates (events/s of the saves and of the catch-up).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from application.engine import Engine
from application.migrations import CreateMigration
from application.settings import Settings
from application.users import Caller
from domain.migration import Migration
from interface.runtime import SAMPLE_WORK, build_runtime
from interface.storage.work_bundles import read_bundle

FEATURES: dict[str, bool | None] = {"web": True, "size_report": True}
"""What every seeded migration asks for: two outputs, so a full lifecycle is 5 events."""
NOOP_PRODUCERS = "interface.outputs.noop:build_noop_producers"
CATCH_UP_BATCH = 5000
errors = Console(stderr=True, soft_wrap=True)


@dataclass
class Seeded:
    """What a seeding made: the author's token, ids to ask for, and how fast it went."""

    token: str
    author_id: str
    work_id: str
    migration_ids: list[str] = field(default_factory=list)
    """A sample of the seeded migrations (spread over the whole run), newest last."""
    completed_ids: list[str] = field(default_factory=list)
    """A sample of those with a full lifecycle (SUCCESS)."""
    migrations: int = 0
    events: int = 0
    save_seconds: float = 0.0
    build_seconds: float = 0.0
    catch_up_seconds: float = 0.0
    catch_up_events: int = 0

    @property
    def save_events_per_second(self) -> float:
        return self.events / self.save_seconds if self.save_seconds else 0.0

    @property
    def seed_events_per_second(self) -> float:
        """Building the aggregates (domain commands) and saving them."""
        total = self.build_seconds + self.save_seconds
        return self.events / total if total else 0.0

    @property
    def catch_up_events_per_second(self) -> float:
        return self.catch_up_events / self.catch_up_seconds if self.catch_up_seconds else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "migrations": self.migrations,
            "events": self.events,
            "save_seconds": round(self.save_seconds, 3),
            "save_events_per_second": round(self.save_events_per_second),
            "build_seconds": round(self.build_seconds, 3),
            "seed_events_per_second": round(self.seed_events_per_second),
            "catch_up_events": self.catch_up_events,
            "catch_up_seconds": round(self.catch_up_seconds, 3),
            "catch_up_events_per_second": round(self.catch_up_events_per_second),
        }


@dataclass(frozen=True)
class Author:
    caller: Caller
    token: str
    work: dict[str, str]
    """The work as a migration records it (Work.summary())."""


def progress_bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=errors,
        disable=not enabled,
        transient=False,
    )


def make_author(engine: Engine, email: str | None = None) -> Author:
    """A new author with a token and the sample work registered to them."""
    email = email or f"seed-{uuid.uuid4().hex[:8]}@example.com"
    user = engine.users.register(email, "author", "seed password")
    caller = Caller(user.id, user.role)
    manifest, files = read_bundle(SAMPLE_WORK)
    work = engine.works.register(caller, manifest, files)
    return Author(
        caller=caller,
        token=engine.users.issue_token(user.id),
        work={"id": work.id, "name": work.name, "sub_name": work.sub_name, "owner_id": user.id},
    )


class MigrationFactory:
    """Builds migrations the way the API and the runner would have, without the I/O."""

    def __init__(self, author: Author, pending_fraction: float, lifecycle: bool, rng_seed: int):
        self.author = author
        self.pending_fraction = pending_fraction
        self.lifecycle = lifecycle
        self.rng = random.Random(rng_seed)
        self.digest = CreateMigration(work_id=author.work["id"], features=FEATURES).digest()
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.worker_id = uuid.uuid4().hex

    def build(self) -> Migration:
        migration = Migration.request(
            work=self.author.work,
            requester_id=self.author.caller.user_id,
            features=FEATURES,
            request_digest=self.digest,
        )
        if not self.lifecycle or self.rng.random() < self.pending_fraction:
            return migration  # PENDING: only Created
        migration.start(host=self.host, pid=self.pid, worker_id=self.worker_id)
        prefix = f"/outputs/{migration.public_id}"
        web_bytes = self.rng.randint(200_000, 5_000_000)
        migration.record_output(
            "web",
            {
                "url": f"{prefix}/web/index.html",
                "bytes": web_bytes,
                "sha256": hashlib.sha256(f"{prefix}/web".encode()).hexdigest(),
                "pages": 12,
            },
            web_script=f"{prefix}/web/reader.js",
        )
        migration.record_output(
            "size_report",
            {
                "url": f"{prefix}/size_report/report.json",
                "bytes": self.rng.randint(800, 4000),
                "sha256": hashlib.sha256(f"{prefix}/size_report".encode()).hexdigest(),
                "report": {"pages": 12, "total_bytes": web_bytes},
            },
        )
        migration.complete()
        return migration


def seed_engine(
    engine: Engine,
    migrations: int,
    progress: bool = True,
    *,
    author: Author | None = None,
    pending_fraction: float = 0.1,
    lifecycle: bool = True,
    batch: int = 500,
    sample: int = 1000,
    catch_up: bool = True,
    rng_seed: int = 42,
) -> Seeded:
    """Seed `migrations` migrations into the engine's log (see the module's docstring)."""
    author = author or make_author(engine)
    factory = MigrationFactory(author, pending_fraction, lifecycle, rng_seed)
    seeded = Seeded(token=author.token, author_id=author.caller.user_id, work_id=author.work["id"])
    every = max(1, migrations // max(sample, 1))
    with progress_bar(progress) as bars:
        task = bars.add_task("seeding migrations", total=migrations, rate="")
        done = 0
        while done < migrations:
            size = min(batch, migrations - done)
            started = time.perf_counter()
            aggregates = [factory.build() for _ in range(size)]
            built = time.perf_counter()
            engine.log.save(*aggregates)
            seeded.build_seconds += built - started
            seeded.save_seconds += time.perf_counter() - built
            for offset, migration in enumerate(aggregates):
                if (done + offset) % every == 0:
                    seeded.migration_ids.append(migration.public_id)
                    if migration.status == "SUCCESS":
                        seeded.completed_ids.append(migration.public_id)
                seeded.events += migration.version
            done += size
            bars.update(task, completed=done, rate=f"{seeded.seed_events_per_second:,.0f} ev/s")
    seeded.migrations = migrations
    if catch_up:
        events, seconds = catch_up_read_models(engine, progress)
        seeded.catch_up_events, seeded.catch_up_seconds = events, seconds
    return seeded


def catch_up_read_models(engine: Engine, progress: bool = True) -> tuple[int, float]:
    """Fold what the read models have not yet folded, in large batches: (events, seconds)."""
    head = engine.log.recorder.max_notification_id() or 0
    applied = 0
    started = time.perf_counter()
    with progress_bar(progress) as bars:
        for projection in engine.read_models.projections.values():
            task = bars.add_task(f"catch-up {projection.name}", total=head, rate="")
            began = time.perf_counter()
            first = projection.position

            def advance(position: int, task: Any = task, began: float = began, first: int = first):
                rate = (position - first) / max(time.perf_counter() - began, 1e-6)
                bars.update(task, completed=position, rate=f"{rate:,.0f} ev/s")

            previous = projection.batch_size
            projection.batch_size = max(previous, CATCH_UP_BATCH)
            try:
                applied += projection.catch_up(advance)
            finally:
                projection.batch_size = previous
            bars.update(task, completed=head)
    return applied, time.perf_counter() - started


def seed(
    settings: Settings,
    migrations: int,
    progress: bool = True,
    **options: Any,
) -> Seeded:
    """Seed the store `settings` names: one author, one work, `migrations` migrations."""
    runtime = build_runtime(settings, with_executor=False)
    try:
        return seed_engine(runtime.engine, migrations, progress, **options)
    finally:
        runtime.close()


@contextlib.contextmanager
def postgres_schema(base_url: str, prefix: str = "bench") -> Iterator[str]:
    """A fresh schema in `base_url`'s database, dropped afterwards (also on error)."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def bench_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a benchmark: no-op producers, a small PostgreSQL pool."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "producers": NOOP_PRODUCERS,
        "workers": 2,
        "postgres_pool_size": 2,
        "postgres_max_overflow": 4,
    }
    values.update(overrides)
    return Settings(**values)


def timed_call(function: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--migrations", type=int, default=10_000)
    parser.add_argument("--database-url", required=True, help="sqlite:///PATH, postgresql://...")
    parser.add_argument("--data-dir", type=Path, required=True, help="works and outputs")
    parser.add_argument("--pending-fraction", type=float, default=0.1)
    parser.add_argument("--created-only", action="store_true", help="only Created events")
    parser.add_argument("--batch", type=int, default=500, help="aggregates per save")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = bench_settings(args.database_url, args.data_dir)
    seeded = seed(
        settings,
        args.migrations,
        progress=not args.no_progress,
        pending_fraction=args.pending_fraction,
        lifecycle=not args.created_only,
        batch=args.batch,
    )
    print(f"author: {seeded.author_id}")
    print(f"token:  {seeded.token}")
    print(f"work:   {seeded.work_id}")
    print(f"some migrations: {', '.join(seeded.migration_ids[-3:])}")
    print(
        f"seeded {seeded.migrations:,} migrations, {seeded.events:,} events: "
        f"{seeded.seed_events_per_second:,.0f} events/s (domain commands "
        f"{seeded.build_seconds:.1f} s + saves {seeded.save_seconds:.1f} s, saves alone "
        f"{seeded.save_events_per_second:,.0f} events/s), "
        f"read-model catch-up {seeded.catch_up_seconds:.1f} s "
        f"({seeded.catch_up_events_per_second:,.0f} events/s over both read models)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
