"""Write path: N migrations through their lifecycle vs the bare eventsourcing library.

    .venv/bin/python -m benchmarks.write_path [--quick] [--stores memory,sqlite,postgres]

Ours, two ways, on the same store kind in the same process:

* "log": the domain commands (Migration.request, start, record_output x2, complete) each
  followed by `engine.log.save(migration)` -- 5 events, 5 saves, exactly the saves the runner
  makes, without the runner's reloads, lease writes and work lookups;
* "use cases": `engine.migrations.create` then `engine.runner.run` on no-op producers, the
  code path a request and a worker take (read models kept out: projections external and no
  read-your-writes wait, so the figure has no projection work in it).

The reference: a bare `eventsourcing.application.Application` saving a minimal aggregate's 5
events one save per event. Variants are interleaved and repeated (best of 3) to cancel noise.
Figure: seconds for N migrations (lower is better; ratio = reference / ours, target 1/1.1).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from application.migrations import CreateMigration
from benchmarks.common import Report, Row
from benchmarks.seed import FEATURES, MigrationFactory, bench_settings, make_author, postgres_schema
from domain.migration import Migration
from interface.runtime import Runtime, build_runtime

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
STORES = ("memory", "sqlite", "postgres")
SIZES = {  # migrations per timed run: (quick, full)
    "memory": (400, 3000),
    "sqlite": (200, 1000),
    "postgres": (120, 500),
}
REPEATS = 3
NOOP_VALUE = {"url": None, "bytes": 0, "sha256": None, "noop": True}


class Minimal(Aggregate):
    """The reference aggregate: five events, each carrying one small field."""

    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name
        self.steps = 0

    @event("Stepped")
    def step(self, number: int) -> None:
        self.steps = number


class Bare(Application[Any]):
    name = "bare"


def bare_run(app: Bare, count: int) -> float:
    """`count` aggregates, 5 events each, one save per event."""
    started = time.perf_counter()
    for index in range(count):
        aggregate = Minimal(name=f"bare-{index}")
        app.save(aggregate)
        for number in range(1, 5):
            aggregate.step(number)
            app.save(aggregate)
    return time.perf_counter() - started


def log_run(runtime: Runtime, factory: MigrationFactory, count: int) -> float:
    """Our domain commands, each saved through the engine's log (the runner's 5 saves)."""
    log = runtime.engine.log
    author = factory.author
    started = time.perf_counter()
    for _ in range(count):
        migration = Migration.request(
            work=author.work,
            requester_id=author.caller.user_id,
            features=FEATURES,
            request_digest=factory.digest,
        )
        log.save(migration)
        migration.start(host=factory.host, pid=factory.pid, worker_id=factory.worker_id)
        log.save(migration)
        migration.record_output("web", NOOP_VALUE)
        log.save(migration)
        migration.record_output("size_report", NOOP_VALUE)
        log.save(migration)
        migration.complete()
        log.save(migration)
    return time.perf_counter() - started


def use_case_run(runtime: Runtime, factory: MigrationFactory, count: int) -> float:
    """The create use case, then one delivery run by the runner on no-op producers."""
    engine = runtime.engine
    caller = factory.author.caller
    request = CreateMigration(work_id=factory.author.work["id"], features=FEATURES)
    started = time.perf_counter()
    for _ in range(count):
        created = engine.migrations.create(caller, request)
        status = engine.runner.run(created.detail["id"])
        if status != "SUCCESS":
            raise RuntimeError(f"{created.detail['id']} ended {status}")
    return time.perf_counter() - started


def store_url(kind: str, directory: Path, schema: str | None) -> str:
    if kind == "memory":
        return f"memory://write-path-{time.monotonic_ns()}"
    if kind == "sqlite":
        return f"sqlite:///{directory}/engine.db"
    return f"{POSTGRES_URL}?schema={schema}"


def bare_env(runtime: Runtime, directory: Path, schema: str | None) -> dict[str, str]:
    """The engine's event-store environment, pointed at a file (SQLite) or schema of its own.

    Not the engine's schema: with POSTGRES_ENABLE_DB_FUNCTIONS eventsourcing 9.5.6 names its
    insert function es_insert_events_uuid per schema, not per table, so a second application
    in the same schema replaces it and the engine's saves land in the other's table."""
    env = dict(runtime.settings.event_store_env())
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        env["SQLITE_DBNAME"] = str(directory / "bare.db")
    if schema is not None:
        env["POSTGRES_SCHEMA"] = schema
    return env


def measure_store(kind: str, count: int, report: Report) -> None:
    with contextlib.ExitStack() as cleanup:
        directory = Path(tempfile.mkdtemp(prefix=f"write-path-{kind}-"))
        cleanup.callback(shutil.rmtree, directory, ignore_errors=True)
        schema = bare_schema = None
        if kind == "postgres":
            schema = cleanup.enter_context(postgres_schema(POSTGRES_URL))
            bare_schema = cleanup.enter_context(postgres_schema(POSTGRES_URL, "bare"))
        settings = bench_settings(
            store_url(kind, directory, schema),
            directory / "data",
            projections="external",
            read_your_writes_timeout=0,
        )
        runtime = build_runtime(settings, with_executor=False)
        cleanup.callback(runtime.close)
        factory = MigrationFactory(make_author(runtime.engine), 0.0, True, 7)
        bare = Bare(env=bare_env(runtime, directory, bare_schema))
        cleanup.callback(bare.close)
        variants: dict[str, Callable[[], float]] = {
            "bare": lambda: bare_run(bare, count),
            "log": lambda: log_run(runtime, factory, count),
            "use cases": lambda: use_case_run(runtime, factory, count),
        }
        # Warm up each path (imports, prepared statements, first-table growth).
        bare_run(bare, 5)
        log_run(runtime, factory, 5)
        use_case_run(runtime, factory, 5)
        timings: dict[str, list[float]] = {name: [] for name in variants}
        order = list(variants)
        for repeat in range(REPEATS):
            for name in order[repeat % len(order) :] + order[: repeat % len(order)]:
                timings[name].append(variants[name]())
        best = {name: min(values) for name, values in timings.items()}
        events = 5 * count
        report.meta[kind] = {
            "migrations_per_run": count,
            "events_per_run": events,
            "timings_seconds": {k: [round(v, 4) for v in vs] for k, vs in timings.items()},
            "events_per_second_best": {k: round(events / v) for k, v in best.items()},
        }
        report.add(
            Row(
                f"{kind}: {count} migrations, log saves",
                best["log"],
                best["bare"],
                "s",
                higher_is_better=False,
                target=0.91,
                notes="domain commands + engine.log.save per command (5 saves) vs bare "
                "Application, minimal aggregate, one save per event",
            )
        )
        report.add(
            Row(
                f"{kind}: {count} migrations, create + runner.run",
                best["use cases"],
                best["bare"],
                "s",
                higher_is_better=False,
                notes="informative: adds work/migration reloads, lease hold/release writes, "
                "work lookups; no read-model work",
            )
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small N: under a minute")
    parser.add_argument("--stores", default=",".join(STORES), help="memory,sqlite,postgres")
    parser.add_argument("--migrations", type=int, default=None, help="N for every store")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("COLUMNS", "160")  # the report's table, unwrapped
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = set(stores) - set(STORES)
    if unknown:
        print(f"unknown store(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    report = Report("write_path")
    report.meta["quick"] = args.quick
    report.meta["repeats"] = REPEATS
    report.meta["ours"] = (
        "log: Migration.request/start/record_output x2/complete, engine.log.save after each; "
        "use cases: engine.migrations.create + engine.runner.run (no-op producers, projections "
        "external, read_your_writes_timeout=0)"
    )
    report.meta["reference"] = "bare eventsourcing Application, 5-event minimal aggregate"
    for kind in stores:
        count = args.migrations or SIZES[kind][0 if args.quick else 1]
        started = time.perf_counter()
        measure_store(kind, count, report)
        print(f"{kind}: measured in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    report.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
