"""Scale-out benchmark: the API and N Celery workers on a fresh PostgreSQL schema and Redis.

    .venv/bin/python benchmarks/scale_out.py --migrations 500 --workers 2 [--kill-one]

Creates M migrations through HTTP, waits until every one has ended (optionally killing a worker
with SIGKILL a third of the way through and starting a replacement), then prints the
throughput, the count of each status, and checks from the event log that no output of any
migration was produced twice. Exits 1 when a check fails; removes what it made on the way out.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from application.settings import Settings
from application.users import Caller
from domain.migration import Migration
from interface.runtime import SAMPLE_WORK, build_runtime
from interface.storage.work_bundles import read_bundle

REPO_ROOT = Path(__file__).resolve().parents[1]
COMMAND = str(Path(sys.executable).parent / "migration-engine")
MIGRATIONS = "/api/authoring/migration/"
STATUSES = ("PENDING", "STARTED", "RETRY", "SUCCESS", "FAILURE", "REVOKED")
TERMINAL = ("SUCCESS", "FAILURE", "REVOKED")
FEATURES = {"web": True, "size_report": True}
ENDED = (Migration.Completed, Migration.Failed, Migration.Revoked)
TALLIED = (Migration.Created, Migration.Started, Migration.OutputProduced, Migration.RetryScheduled)
TALLIED += ENDED


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--migrations", type=int, default=500, help="how many to create")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=4, help="pool size of each worker")
    parser.add_argument("--kill-one", action="store_true", help="SIGKILL a worker a third in")
    parser.add_argument(
        "--real-outputs", action="store_true", help="make real web/size_report outputs"
    )
    parser.add_argument("--clients", type=int, default=8, help="HTTP client threads")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--lease-ttl", type=float, default=5.0)
    parser.add_argument("--sweep-interval", type=float, default=1.0)
    parser.add_argument("--stale-after", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for all")
    parser.add_argument(
        "--worker-pool-size",
        type=int,
        default=2,
        help="PostgreSQL connections each pool child keeps open per store (two stores)",
    )
    parser.add_argument("--server-pool-size", type=int, default=5)
    parser.add_argument(
        "--keep", action="store_true", help="keep the schema and the logs (to look into a failure)"
    )
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Child:
    """A migration-engine command in its own session, so its pool children die with it."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [COMMAND, *args],
                env=env,
                cwd=REPO_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{tail}")

    def kill(self) -> None:
        """SIGKILL the whole group: nothing gets to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):  # pool children that outlived the parent
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=10)


def wait_until(what: str, ready: Any, child: Child, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        child.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Bench:
    """What the run made, so that it can all be removed afterwards."""

    args: argparse.Namespace
    schema: str = field(default_factory=lambda: f"bench_{uuid.uuid4().hex[:12]}")
    queue: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:12]}")
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="scale-out-")))
    port: int = field(default_factory=free_port)
    server: Child | None = None
    workers: list[Child] = field(default_factory=list)

    @property
    def database_url(self) -> str:
        return f"{self.args.postgres_url}?schema={self.schema}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings_values(self) -> dict[str, str]:
        args = self.args
        producers = (
            "interface.outputs:build_producers"
            if args.real_outputs
            else "interface.outputs.noop:build_noop_producers"
        )
        return {
            "database_url": self.database_url,
            "data_dir": str(self.data_dir / "data"),
            "broker_url": args.broker_url,
            "queue": self.queue,
            "producers": producers,
            "lease_ttl": str(args.lease_ttl),
            "sweep_interval": str(args.sweep_interval),
            "stale_after": str(args.stale_after),
            # Each process opens pool_size connections per store up front (eventsourcing's
            # min_size): the default of 20 would exhaust a stock PostgreSQL with a few children.
            "postgres_pool_size": str(args.worker_pool_size),
        }

    def env(self, pool_size: int | None = None) -> dict[str, str]:
        values = {f"MIGRATION_ENGINE_{k.upper()}": v for k, v in self.settings_values().items()}
        if pool_size is not None:
            values["MIGRATION_ENGINE_POSTGRES_POOL_SIZE"] = str(pool_size)
        return {**os.environ, **values, "PORT": str(self.port), "PYTHONPATH": str(REPO_ROOT)}

    def start_server(self) -> None:
        env = self.env(pool_size=self.args.server_pool_size)
        self.server = Child("server", ["serve"], env, self.data_dir / "server.log")

        def answers() -> bool:
            try:
                return httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until("the API", answers, self.server)

    def start_worker(self) -> Child:
        number = len(self.workers) + 1
        args = ["worker", "--concurrency", str(self.args.concurrency), "--queues", self.queue]
        args += ["--loglevel", "info", "--pool", "prefork"]
        worker = Child(f"worker {number}", args, self.env(), self.data_dir / f"worker-{number}.log")
        self.workers.append(worker)
        wait_until(f"worker {number}", lambda: " ready." in worker.log.read_text(), worker)
        return worker

    def print_logs(self, tail: int = 4000) -> None:
        for child in [*filter(None, [self.server]), *self.workers]:
            text = child.log.read_text(errors="replace") if child.log.exists() else ""
            print(f"----- {child.name} log (last {tail} characters) -----\n{text[-tail:]}")

    def close(self) -> None:
        for child in [*self.workers, *filter(None, [self.server])]:
            child.stop()
        try:
            from kombu import Connection

            with Connection(self.args.broker_url, connect_timeout=3) as connection:
                connection.default_channel.queue_delete(self.queue)
        except Exception as problem:  # cleanup goes on: the schema and files matter more
            print(f"could not delete queue {self.queue}: {problem}", file=sys.stderr)
        if self.args.keep:
            print(f"kept schema {self.schema} and logs in {self.data_dir}", file=sys.stderr)
            return
        with psycopg.connect(self.args.postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        shutil.rmtree(self.data_dir, ignore_errors=True)


@contextmanager
def bench(args: argparse.Namespace) -> Iterator[Bench]:
    made = Bench(args)
    with psycopg.connect(args.postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {made.schema}")
    try:
        yield made
    except Exception:
        made.print_logs()
        raise
    finally:
        made.close()


def seed(made: Bench) -> tuple[str, str]:
    """An author and the sample work, written straight to the store: (token, work id)."""
    runtime = build_runtime(Settings(**made.settings_values()), with_executor=False)
    try:
        users = runtime.engine.users
        user = users.register(f"bench-{uuid.uuid4().hex[:8]}@example.com", "author", "bench pass")
        manifest, files = read_bundle(SAMPLE_WORK)
        work = runtime.engine.works.register(Caller(user.id, user.role), manifest, files)
        return users.issue_token(user.id), work.id
    finally:
        runtime.close()


def request(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send, again on a transport error: a kept-alive connection the server has just closed
    fails the request that reuses it. POSTs carry an Idempotency-Key, so a repeat is safe."""
    for attempt in range(3):
        try:
            return client.request(method, url, **kwargs)
        except httpx.TransportError:
            if attempt == 2:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def create_all(
    client: httpx.Client, work_id: str, count: int, threads: int, stop: threading.Event
) -> list[str]:
    def create(_: int) -> str:
        if stop.is_set():
            raise RuntimeError("creation stopped")
        body = {"work_id": work_id, "features": FEATURES}
        key = {"Idempotency-Key": uuid.uuid4().hex}
        response = request(client, "POST", MIGRATIONS, json=body, headers=key)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"create answered {response.status_code}: {response.text}")
        migration_id: str = response.json()["id"]
        return migration_id

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(create, range(count)))


def counts(client: httpx.Client) -> dict[str, int]:
    """How many migrations have each status (one request per status: not a snapshot)."""
    found = {}
    for status in STATUSES:
        response = request(client, "GET", MIGRATIONS, params={"status": status, "limit": 1})
        response.raise_for_status()
        found[status] = int(response.json()["count"])
    return found


def wait_for_all(made: Bench, client: httpx.Client, creating: Future[list[str]]) -> dict[str, int]:
    """Poll the list until every migration has ended; kill and replace a worker if asked."""
    total = made.args.migrations
    killed = not made.args.kill_one
    deadline = time.monotonic() + made.args.timeout
    while True:
        if creating.done() and creating.exception() is not None:
            creating.result()  # raises the failure
        seen = counts(client)
        if creating.done() and sum(seen[s] for s in TERMINAL) >= total:
            return seen
        if not killed and seen["SUCCESS"] >= total / 3:
            victim = made.workers[0]
            victim.kill()
            print(f"killed {victim.name} (pid {victim.process.pid}) at {seen}", flush=True)
            replacement = made.start_worker()
            print(f"started {replacement.name} (pid {replacement.process.pid})", flush=True)
            killed = True
        if time.monotonic() > deadline:
            print(f"timed out after {made.args.timeout:.0f}s: {seen}", flush=True)
            return seen
        time.sleep(0.25)


@dataclass
class Audit:
    """What the event log says about the run."""

    created: int = 0
    first_created: datetime | None = None
    last_ended: datetime | None = None
    outputs: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    starts: Counter[str] = field(default_factory=Counter)
    workers_lost: int = 0
    retries: int = 0

    def duplicates(self) -> dict[str, dict[str, int]]:
        return {
            mid: {name: n for name, n in produced.items() if n > 1}
            for mid, produced in self.outputs.items()
            if max(produced.values()) > 1
        }


def audit(made: Bench) -> Audit:
    runtime = build_runtime(Settings(**made.settings_values()), with_executor=False)
    found = Audit()
    try:
        log = runtime.engine.log
        topics = [cls.TOPIC for cls in TALLIED]
        start = 1
        while True:
            batch = log.recorder.select_notifications(start=start, limit=1000, topics=topics)
            if not batch:
                return found
            for notification in batch:
                _tally(found, log.mapper.to_domain_event(notification))
            start = batch[-1].id + 1
    finally:
        runtime.close()


def _tally(found: Audit, event: Any) -> None:
    migration_id = f"m-{event.originator_id.hex}"
    if isinstance(event, Migration.Created):
        found.created += 1
        found.first_created = min(filter(None, [found.first_created, event.timestamp]))
    elif isinstance(event, Migration.Started):
        found.starts[migration_id] += 1
    elif isinstance(event, Migration.OutputProduced):
        found.outputs[migration_id][event.name] += 1
    elif isinstance(event, Migration.RetryScheduled):
        found.retries += 1
        found.workers_lost += event.error.startswith("worker lost:")
    elif isinstance(event, ENDED):
        found.last_ended = max(filter(None, [found.last_ended, event.timestamp]))


def report(args: argparse.Namespace, ids: list[str], seen: dict[str, int], found: Audit) -> bool:
    """Print the summary; True when every check passed."""
    elapsed = (
        (found.last_ended - found.first_created).total_seconds()
        if found.first_created and found.last_ended
        else float("nan")
    )
    print(f"migrations: {len(ids)} created through HTTP, {found.created} in the event log")
    print(f"workers: {args.workers} x concurrency {args.concurrency}, kill-one: {args.kill_one}")
    print(f"elapsed (first Created to last ending event): {elapsed:.2f}s")
    print(f"throughput: {len(ids) / elapsed:.1f} migrations/s")
    print("statuses: " + ", ".join(f"{s}={seen[s]}" for s in STATUSES if seen[s]))
    restarted = sum(1 for n in found.starts.values() if n > 1)
    print(
        f"attempts: {sum(found.starts.values())} starts, {restarted} migration(s) started again, "
        f"{found.retries} retries scheduled ({found.workers_lost} for a lost worker)"
    )
    duplicates = found.duplicates()
    checks = {
        "every migration ended": sum(seen[s] for s in TERMINAL) == len(ids),
        "every migration succeeded": seen["SUCCESS"] == len(ids),
        "no output produced twice": not duplicates,
        "every success has its outputs": all(
            set(found.outputs[mid]) == set(FEATURES) for mid in ids
        ),
    }
    for name, passed in checks.items():
        print(f"check: {name}: {'ok' if passed else 'FAILED'}")
    for mid, names in list(duplicates.items())[:10]:
        print(f"  produced twice: {mid} {names}")
    return all(checks.values())


def run(args: argparse.Namespace) -> bool:
    with bench(args) as made:
        token, work_id = seed(made)
        made.start_server()
        for _ in range(args.workers):
            made.start_worker()
        print(
            f"schema {made.schema}, queue {made.queue}, API {made.base_url}, "
            f"{args.workers} worker(s) ready",
            flush=True,
        )
        headers = {"Authorization": f"Bearer {token}"}
        limits = httpx.Limits(max_connections=args.clients)
        with (
            httpx.Client(base_url=made.base_url, headers=headers, timeout=30, limits=limits) as c,
            ThreadPoolExecutor(1) as background,
        ):
            started = time.monotonic()
            stop = threading.Event()
            # Created while the workers run them: the kill lands mid-stream.
            creating = background.submit(
                create_all, c, work_id, args.migrations, args.clients, stop
            )

            def created(future: Future[list[str]]) -> None:
                if future.exception() is None:
                    print(f"created in {time.monotonic() - started:.2f}s", flush=True)

            creating.add_done_callback(created)
            try:
                wait_for_all(made, c, creating)
            finally:
                stop.set()  # on Ctrl-C or a failure, stop creating before cleaning up
            ids = creating.result()
            seen = counts(c)  # settled: every migration has ended
            print(f"all ended after {time.monotonic() - started:.2f}s (wall clock)", flush=True)
        return report(args, ids, seen, audit(made))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the cleanup runs either way.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return 0 if run(args) else 1
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
