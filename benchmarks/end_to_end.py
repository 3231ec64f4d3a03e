"""End-to-end benchmark: no-op migrations through HTTP until SUCCESS, vs Celery no-op tasks.

    .venv/bin/python -m benchmarks.end_to_end [--quick] [--migrations 500]

Three runs, one after another (never at once):

- reference: the original service's stack. A Celery app on Redis with a Redis result backend
  and `task_track_started=True`; one prefork worker of 2 processes; N no-op tasks enqueued from
  one client thread and awaited until every result is ready (tasks/s).
- in-process: `migration-engine serve` alone (SQLite store, no-op producers,
  MIGRATION_ENGINE_WORKERS=4); N migrations created with POST /api/authoring/migration/ from a
  small client thread pool, then the list polled (?status=SUCCESS, limit=1) until all N have
  succeeded (migrations/s from the first request to the last SUCCESS seen).
- celery: `serve` with a broker plus `migration-engine worker --concurrency 2 --pool prefork`
  (2 worker processes) against a fresh PostgreSQL schema and Redis; measured as in-process.

Every run first does a small warm-up batch that is not timed. The queue names are fresh; the
Redis db is a dedicated one (--redis-db); the schema, queues, result keys, processes and temp
files are removed at the end, also on errors, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.api import (
    COMMAND,
    NOOP_PRODUCERS,
    Spawned,
    answers,
    engine_env,
    free_port,
    seed,
    wait_until,
)
from benchmarks.common import Report, Row

ROOT = "/api/authoring/migration/"
FEATURES = {"web": True, "size_report": True}
REFERENCE_TASK = "benchmarks.reference_noop"
WORKER_PROCESSES = 2
IN_PROCESS_THREADS = 4
CLIENT_THREADS = 4
WARMUP = 10


def noop() -> None:
    """The reference task: does nothing."""


def reference_celery(broker: str, backend: str, queue: str) -> Any:
    """The original service's Celery stack: Redis broker, Redis result backend, STARTED
    tracked; otherwise Celery's defaults (prefetch 4, acks on receipt)."""
    from celery import Celery

    app = Celery("bench_reference", broker=broker, backend=backend)
    app.conf.update(
        task_track_started=True,
        task_default_queue=queue,
        task_serializer="json",
        accept_content=["json"],
        result_expires=3600,
        broker_connection_retry_on_startup=True,
        worker_send_task_events=False,
    )
    app.task(name=REFERENCE_TASK)(noop)
    return app


def reference_worker(argv: list[str]) -> int:
    """`python -m benchmarks.end_to_end --reference-worker ...`: the reference's worker."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--reference-worker", action="store_true")
    parser.add_argument("--broker", required=True)
    parser.add_argument("--backend", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--concurrency", type=int, default=WORKER_PROCESSES)
    args = parser.parse_args(argv)
    app = reference_celery(args.broker, args.backend, args.queue)
    # The same worker options `migration-engine worker` passes (interface/cli/main.py).
    app.worker_main(
        [
            "worker",
            f"--concurrency={args.concurrency}",
            f"--queues={args.queue}",
            "--loglevel=info",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
        ]
    )
    return 0


# ---------------------------------------------------------------------------------------------


@dataclass
class Measured:
    count: int
    seconds: float
    """From just before the first request to the last SUCCESS seen by the client."""
    by_timestamps: float | None = None
    """From just before the first request to the latest `updated` of the migrations."""
    create_seconds: float | None = None
    events_per_migration: float | None = None
    event_types: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.seconds


@dataclass
class Resources:
    """What a run made: removed by close(), in reverse order, whatever happened."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-e2e-")))
    children: list[Spawned] = field(default_factory=list)
    cleanups: list[Any] = field(default_factory=list)

    def spawn(self, name: str, command: list[str], env: dict[str, str]) -> Spawned:
        child = Spawned(name, command, env, self.workdir / f"{name}.log")
        self.children.append(child)
        return child

    def dump_logs(self, tail: int = 3000) -> None:
        """Print the end of each child's log, and keep the whole logs in a new temp dir."""
        kept = Path(tempfile.mkdtemp(prefix="bench-e2e-logs-"))
        for child in self.children:
            print(f"----- {child.name} log -----\n{child.tail(tail)}", file=sys.stderr)
            if child.log.exists():
                shutil.copy(child.log, kept / child.log.name)
        print(f"the whole logs are kept in {kept}", file=sys.stderr)

    def close(self) -> None:
        for child in reversed(self.children):
            try:
                child.stop()
            except Exception as problem:  # go on: the rest must be removed too
                print(f"could not stop {child.name}: {problem}", file=sys.stderr)
        for cleanup in reversed(self.cleanups):
            try:
                cleanup()
            except Exception as problem:
                print(f"cleanup failed: {problem}", file=sys.stderr)
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextmanager
def resources() -> Iterator[Resources]:
    made = Resources()
    try:
        yield made
    except BaseException:
        made.dump_logs()
        raise
    finally:
        made.close()


def delete_queue(broker: str, queue: str) -> None:
    """Remove a queue's keys from Redis: its messages (every priority) and kombu's bindings."""
    import redis

    keys = [queue, *(f"{queue}\x06\x16{p}" for p in (3, 6, 9))]
    keys += [f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
    client = redis.Redis.from_url(broker, socket_connect_timeout=3)
    try:
        client.delete(*keys)
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# The reference


def run_reference(args: argparse.Namespace, made: Resources) -> Measured:
    from celery.result import ResultSet

    broker = backend = f"{args.redis_url}/{args.redis_db}"
    queue = f"bench-e2e-ref-{uuid.uuid4().hex[:12]}"
    made.cleanups.append(lambda: delete_queue(broker, queue))
    command = [sys.executable, "-m", "benchmarks.end_to_end", "--reference-worker"]
    command += ["--broker", broker, "--backend", backend, "--queue", queue]
    command += ["--concurrency", str(WORKER_PROCESSES)]
    worker = made.spawn("reference-worker", command, engine_env({}, 0))
    wait_until("the reference worker", lambda: " ready." in worker.tail(100_000), worker)
    app = reference_celery(broker, backend, queue)
    made.cleanups.append(app.close)
    sent: list[Any] = []
    made.cleanups.append(lambda: ResultSet(sent).forget())

    def batch(count: int) -> tuple[float, float]:
        results = ResultSet([])
        started = time.perf_counter()
        for _ in range(count):
            result = app.send_task(REFERENCE_TASK, queue=queue)
            sent.append(result)
            results.add(result)
        enqueued = time.perf_counter() - started
        results.join_native(timeout=args.timeout, propagate=True)
        return time.perf_counter() - started, enqueued

    batch(WARMUP)
    seconds, enqueued = batch(args.migrations)
    worker.check_alive()
    return Measured(count=args.migrations, seconds=seconds, create_seconds=enqueued)


# ---------------------------------------------------------------------------------------------
# Ours


def request(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send, again on a transport error (a kept-alive connection the server just closed);
    POSTs carry an Idempotency-Key, so a repeat creates nothing twice."""
    for attempt in range(3):
        try:
            return client.request(method, url, **kwargs)
        except httpx.TransportError:
            if attempt == 2:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def successes(client: httpx.Client) -> int:
    response = request(client, "GET", ROOT, params={"status": "SUCCESS", "limit": 1})
    response.raise_for_status()
    return int(response.json()["count"])


def create(client: httpx.Client, work_id: str) -> str:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"work_id": work_id, "features": FEATURES}
    response = request(client, "POST", ROOT, json=body, headers=key)
    if response.status_code != 201:
        raise RuntimeError(f"create answered {response.status_code}: {response.text}")
    migration_id: str = response.json()["id"]
    return migration_id


def drive(
    client: httpx.Client, work_id: str, count: int, already: int, timeout: float, check: Any
) -> tuple[list[str], float, float, float]:
    """Create `count` migrations from CLIENT_THREADS threads while polling the list until
    `already + count` have succeeded: (ids, first-request wall time, seconds, create seconds)."""
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        started_wall = time.time()
        started = time.perf_counter()
        futures = [pool.submit(create, client, work_id) for _ in range(count)]
        created_at: list[float] = []
        deadline = started + timeout
        while True:
            if all(f.done() for f in futures) and not created_at:
                created_at.append(time.perf_counter() - started)
                for future in futures:
                    future.result()  # raises a failed create
            if created_at and successes(client) >= already + count:
                seconds = time.perf_counter() - started
                break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"timed out: {successes(client) - already}/{count} succeeded")
            check()
            time.sleep(0.1)
    return [f.result() for f in futures], started_wall, seconds, created_at[0]


def latest_update(client: httpx.Client, ids: list[str]) -> float:
    """The latest `updated` (the Completed event's time) of these migrations, epoch seconds."""
    wanted, latest = set(ids), 0.0
    offset = 0
    while wanted:
        page = request(client, "GET", ROOT, params={"limit": 100, "offset": offset}).json()
        for row in page["results"]:
            if row["id"] in wanted:
                wanted.discard(row["id"])
                moment = datetime.fromisoformat(row["updated"].replace("Z", "+00:00"))
                latest = max(latest, moment.timestamp())
        if not page["next"]:
            break
        offset += 100
    return latest


def events_of(client: httpx.Client, ids: list[str], sample: int = 10) -> tuple[float, Counter[str]]:
    types: Counter[str] = Counter()
    picked = ids[:: max(1, len(ids) // sample)][:sample]
    for migration_id in picked:
        page = request(client, "GET", f"{ROOT}{migration_id}/history/").json()
        types.update(entry["type"] for entry in page["results"])
    return sum(types.values()) / len(picked), types


def measure_ours(made: Resources, base_url: str, token: str, work_id: str, args: Any) -> Measured:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=CLIENT_THREADS + 1)

    def check() -> None:
        for child in made.children:
            child.check_alive()

    with httpx.Client(base_url=base_url, headers=headers, timeout=60, limits=limits) as client:
        drive(client, work_id, WARMUP, 0, args.timeout, check)
        ids, started_wall, seconds, created = drive(
            client, work_id, args.migrations, WARMUP, args.timeout, check
        )
        by_timestamps = latest_update(client, ids) - started_wall
        per_migration, types = events_of(client, ids)
    return Measured(
        count=args.migrations,
        seconds=seconds,
        by_timestamps=by_timestamps,
        create_seconds=created,
        events_per_migration=per_migration,
        event_types=dict(types),
    )


def run_in_process(args: argparse.Namespace, made: Resources) -> Measured:
    values = {
        "database_url": f"sqlite:///{made.workdir}/in-process/engine.db",
        "data_dir": str(made.workdir / "in-process" / "data"),
        "producers": NOOP_PRODUCERS,
        "workers": str(IN_PROCESS_THREADS),
    }
    (made.workdir / "in-process").mkdir()
    seeded = seed(values, 0)
    port = free_port()
    server = made.spawn("in-process-server", [COMMAND, "serve"], engine_env(values, port))
    base_url = f"http://127.0.0.1:{port}"
    wait_until("the API", answers(base_url), server)
    measured = measure_ours(made, base_url, seeded.token, seeded.work_id, args)
    server.stop()
    return measured


def run_celery(args: argparse.Namespace, made: Resources) -> Measured:
    import psycopg

    schema = f"bench_e2e_{uuid.uuid4().hex[:12]}"
    queue = f"bench-e2e-{uuid.uuid4().hex[:12]}"
    broker = f"{args.redis_url}/{args.redis_db}"

    def drop_schema() -> None:
        with psycopg.connect(args.postgres_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    with psycopg.connect(args.postgres_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    made.cleanups.append(drop_schema)  # runs after the children have stopped
    made.cleanups.append(lambda: delete_queue(broker, queue))
    values = {
        "database_url": f"{args.postgres_url}?schema={schema}",
        "data_dir": str(made.workdir / "celery" / "data"),
        "producers": NOOP_PRODUCERS,
        "broker_url": broker,
        "queue": queue,
        # Each process opens this many connections per store at start (two stores): stay small.
        "postgres_pool_size": "2",
        "postgres_max_overflow": "4",
    }
    seeded = seed(values, 0)
    port = free_port()
    server_env = engine_env({**values, "postgres_pool_size": "4"}, port)
    server = made.spawn("celery-server", [COMMAND, "serve"], server_env)
    base_url = f"http://127.0.0.1:{port}"
    # One after the other: processes that open the same schema at once can fail on
    # PostgreSQL's "tuple concurrently updated" (each re-creates the insert function).
    wait_until("the API", answers(base_url), server)
    command = [COMMAND, "worker", "--concurrency", str(WORKER_PROCESSES), "--queues", queue]
    command += ["--pool", "prefork", "--loglevel", "info"]
    worker = made.spawn("celery-worker", command, engine_env(values, port))
    wait_until("the worker", lambda: " ready." in worker.tail(100_000), worker)
    measured = measure_ours(made, base_url, seeded.token, seeded.work_id, args)
    return measured


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 migrations instead of 500")
    parser.add_argument("--migrations", type=int, help="N (default 500; --quick 100)")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    parser.add_argument("--redis-db", type=int, default=12, help="a db no one else uses")
    parser.add_argument("--timeout", type=float, help="seconds each run may take at most")
    parser.add_argument(
        "--only", choices=["reference", "in-process", "celery"], action="append", help="run these"
    )
    args = parser.parse_args(argv)
    args.migrations = args.migrations or (100 if args.quick else 500)
    args.timeout = args.timeout or (60.0 if args.quick else 300.0)
    args.only = args.only or ["reference", "in-process", "celery"]
    return args


def run(args: argparse.Namespace) -> Report:
    runs = {
        "reference": run_reference,
        "in-process": run_in_process,
        "celery": run_celery,
    }
    results: dict[str, Measured] = {}
    durations: dict[str, float] = {}
    load_before = [round(x, 2) for x in os.getloadavg()]
    for name in args.only:
        started = time.monotonic()
        with ExitStack() as stack:
            made = stack.enter_context(resources())
            results[name] = runs[name](args, made)
        durations[name] = round(time.monotonic() - started, 1)
        got = results[name]
        print(
            f"{name}: {got.count} in {got.seconds:.2f}s = {got.rate:,.1f}/s"
            + (f" (all sent in {got.create_seconds:.2f}s)" if got.create_seconds else "")
            + f"; whole run {durations[name]}s",
            flush=True,
        )
    report = Report("end_to_end")
    reference = results.get("reference")
    ours_rows = {
        "in-process": ("in-process executor (SQLite, 4 threads)", 2.0),
        "celery": (f"Celery executor (PostgreSQL, {WORKER_PROCESSES} worker processes)", 1.0),
    }
    for name, (label, target) in ours_rows.items():
        got = results.get(name)
        if got is None or reference is None:
            continue
        notes = (
            f"{got.events_per_migration:.1f} events/migration "
            f"({', '.join(f'{k} {v}' for k, v in sorted(got.event_types.items()))} in a sample)"
            " vs Celery's 2 states (STARTED, SUCCESS); "
            f"created in {got.create_seconds:.2f}s; "
            f"by event timestamps {got.count / (got.by_timestamps or got.seconds):,.1f}/s"
        )
        report.add(
            Row(
                f"{label}, N={got.count}",
                got.rate,
                reference.rate,
                "per s",
                target=target,
                notes=notes,
            )
        )
    report.meta = {
        "quick": args.quick,
        "migrations": args.migrations,
        "warmup": WARMUP,
        "client_threads": CLIENT_THREADS,
        "in_process_threads": IN_PROCESS_THREADS,
        "worker_processes": WORKER_PROCESSES,
        "reference": (
            "Celery + Redis broker + Redis result backend, task_track_started=True, prefork "
            f"concurrency {WORKER_PROCESSES}, defaults otherwise; no-op tasks sent from one "
            "client thread, ResultSet.join_native until all ready"
        ),
        "ours": (
            "POST /api/authoring/migration/ from a thread pool; list polled every 0.1 s for "
            "?status=SUCCESS count; time from the first request to the last SUCCESS seen"
        ),
        "results": {name: {**vars(got), "rate": got.rate} for name, got in results.items()},
        "run_seconds": durations,
        "load_average_before_after": [load_before, [round(x, 2) for x in os.getloadavg()]],
    }
    return report


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--reference-worker" in argv:
        return reference_worker(argv)
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # cleanup runs on SIGTERM too
    try:
        report = run(args)
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 130
    if report.rows:  # a partial --only run has no ratio to show: it leaves the JSON alone
        report.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
