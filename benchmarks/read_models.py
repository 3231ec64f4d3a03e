"""Read models: rebuild rate vs raw decode of the same events, and a rebuild under API load.

    .venv/bin/python -m benchmarks.read_models [--quick] [--stores sqlite,postgres]
        [--migrations 100000] [--no-api]

On each store: seed M migrations (benchmarks.seed: full lifecycles, 10% left PENDING), then
(a) decode every migration event (select_notifications in batches of 5000 + the mapper), the
reference; (b) `engine.read_models.rebuild(...)` of migration_list and of work_summary, timed
whole (new generation, catch-up, switch, drop), events/s, ratio to (a), target 0.7; (c) the API
(`migration-engine serve`, inline projections) on the seeded store, 2 threads hammering the
first page of the list with the seeded author's token, before and while `migration-engine
read-models rebuild migration_list` runs as another process: successes, failures, p50/p99;
then `migration-engine read-models verify --sample 1000`: drift must be 0.

The API runs with a broker URL (and a queue nobody reads) so that it is the API process alone:
without one, `serve` embeds the executor, which would run the seeded PENDING migrations
(writes) during the measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from application.engine import Engine
from application.read_models.migration_list import MIGRATION_TOPICS
from application.settings import Settings
from benchmarks.common import REPO, Report, Row, median, percentile
from benchmarks.seed import Seeded, bench_settings, postgres_schema, seed_engine
from interface.runtime import build_runtime

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
BROKER_URL = "redis://127.0.0.1:6379/15"
COMMAND = str(Path(sys.executable).parent / "migration-engine")
LIST_URL = "/api/authoring/migration/?limit=20"
DECODE_BATCH = 5000


# Stores and processes shared with benchmarks.scale -------------------------------------------


@contextlib.contextmanager
def store(kind: str, name: str = "bench") -> Iterator[tuple[str, Path]]:
    """(database URL, temp dir) for a fresh store of `kind`; everything removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix=f"{name}-{kind}-"))
    try:
        if kind == "sqlite":
            yield f"sqlite:///{directory}/engine.db", directory
        elif kind == "postgres":
            with postgres_schema(POSTGRES_URL, name) as schema:
                yield f"{POSTGRES_URL}?schema={schema}", directory
        elif kind == "memory":
            yield f"memory://{name}-{uuid.uuid4().hex}", directory
        else:
            raise ValueError(f"unknown store {kind}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def engine_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment giving a `migration-engine` process these settings."""
    values = {
        "DATABASE_URL": settings.database_url,
        "DATA_DIR": str(settings.data_dir),
        "PRODUCERS": settings.producers,
        "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.postgres_max_overflow),
        "PROJECTIONS": settings.projections,
        "BROKER_URL": BROKER_URL,
        "QUEUE": f"bench-idle-{uuid.uuid4().hex[:12]}",
    }
    values.update(extra)
    env = {**os.environ, **{f"MIGRATION_ENGINE_{k}": v for k, v in values.items()}}
    env["PYTHONPATH"] = str(REPO)
    return env


class Server:
    """`migration-engine serve` in its own session, on a free port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.base_url = f"http://127.0.0.1:{self.port}"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [COMMAND, "serve", "--port", str(self.port)],
                env={**env, "PORT": str(self.port)},
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.tail()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer in {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.2)

    def rss_kib(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def tail(self, characters: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-characters:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextlib.contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[Server]:
    server = Server(env, log)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def run_cli(args: list[str], env: dict[str, str], timeout: float = 3600) -> tuple[int, str, float]:
    """A `migration-engine` command: (exit code, its standard output then error, seconds)."""
    started = time.perf_counter()
    done = subprocess.run(
        [COMMAND, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    return done.returncode, done.stdout + "\n" + done.stderr, time.perf_counter() - started


# (a) decode and (b) rebuild -------------------------------------------------------------------


def decode_all(engine: Engine) -> tuple[int, float]:
    """Every migration event, selected in batches and mapped to domain events: (events, s)."""
    log = engine.log
    count, start = 0, 1
    started = time.perf_counter()
    while True:
        batch = log.recorder.select_notifications(
            start, limit=DECODE_BATCH, topics=MIGRATION_TOPICS
        )
        if not batch:
            break
        for notification in batch:
            log.mapper.to_domain_event(notification)
        count += len(batch)
        start = batch[-1].id + 1
    return count, time.perf_counter() - started


def rebuild(engine: Engine, name: str) -> tuple[int, float, float]:
    """Rebuild one read model: (events, seconds of the whole call, events/s of its catch-up)."""
    started = time.perf_counter()
    (result,) = engine.read_models.rebuild(name)
    return result.events, time.perf_counter() - started, result.events_per_second


# (c) rebuild while the API answers ------------------------------------------------------------


@dataclass
class Sample:
    at: float
    seconds: float
    ok: bool
    status: int


@dataclass
class Hammer:
    """Client threads asking for the first page of the list, as fast as answers come."""

    base_url: str
    token: str
    threads: int = 2
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for number in range(self.threads):
            thread = threading.Thread(target=self._loop, name=f"hammer-{number}", daemon=True)
            thread.start()
            self._workers.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=30)

    def _loop(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=30) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    response = client.get(LIST_URL)
                    ok = response.status_code == 200 and bool(response.json()["results"])
                    status = response.status_code
                    problem = "" if ok else f"{status}: {response.text[:300]}"
                except (httpx.HTTPError, ValueError, KeyError) as error:
                    ok, status, problem = False, 0, f"{type(error).__name__}: {error}"
                finished = time.perf_counter()
                with self._lock:
                    self.samples.append(Sample(finished, finished - started, ok, status))
                    if problem and len(self.errors) < 20:
                        self.errors.append(problem)

    def between(self, start: float, end: float) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if start <= s.at <= end]


def latency_summary(samples: list[Sample]) -> dict[str, Any]:
    good = [s.seconds * 1000 for s in samples if s.ok]
    return {
        "requests": len(samples),
        "succeeded": sum(1 for s in samples if s.ok),
        "failed": sum(1 for s in samples if not s.ok),
        "statuses": sorted({s.status for s in samples}),
        "p50_ms": round(median(good), 2) if good else None,
        "p99_ms": round(percentile(good, 0.99), 2) if good else None,
        "max_ms": round(max(good), 2) if good else None,
    }


def rebuild_under_load(
    settings: Settings, seeded: Seeded, directory: Path, baseline_seconds: float
) -> dict[str, Any]:
    env = engine_env(settings, PROJECTIONS="inline")
    found: dict[str, Any] = {}
    with serving(env, directory / "server.log") as server:
        hammer = Hammer(server.base_url, seeded.token)
        hammer.start()
        try:
            began = time.perf_counter()
            time.sleep(baseline_seconds)
            rebuild_started = time.perf_counter()
            code, output, seconds = run_cli(["read-models", "rebuild", "migration_list"], env)
            rebuild_ended = time.perf_counter()
            time.sleep(min(2.0, baseline_seconds))  # the switch shows within REFRESH_SECONDS
            ended = time.perf_counter()
        finally:
            hammer.stop()
        found["baseline"] = latency_summary(hammer.between(began, rebuild_started))
        found["during_rebuild"] = latency_summary(hammer.between(rebuild_started, rebuild_ended))
        found["after_rebuild"] = latency_summary(hammer.between(rebuild_ended, ended))
        found["rebuild_exit_code"] = code
        found["rebuild_seconds"] = round(seconds, 2)
        found["rebuild_output"] = [line for line in output.splitlines() if "generation" in line]
        found["first_errors"] = hammer.errors[:5]
        code, output, seconds = run_cli(["read-models", "verify", "--sample", "1000"], env)
        drifted = {
            match.group(1): int(match.group(2))
            for match in re.finditer(r"^(\w+): (\d+) drifted", output, re.MULTILINE)
        }
        found["verify"] = {
            "exit_code": code,
            "seconds": round(seconds, 2),
            "drifted": drifted,
            "output_tail": output.strip().splitlines()[-5:],
        }
        if code != 0 and not drifted:
            found["verify"]["error"] = output[-2000:]
        found["server_log_errors"] = [
            line for line in server.tail(200_000).splitlines() if "Traceback" in line
        ][:5]
    return found


# The benchmark ---------------------------------------------------------------------------------


def measure_store(kind: str, args: argparse.Namespace, report: Report) -> bool:
    """Seed, decode, rebuild, then rebuild under API load; False when a check failed."""
    healthy = True
    with store(kind, "readmodels") as (url, directory):
        settings = bench_settings(url, directory / "data")
        runtime = build_runtime(settings, with_executor=False)
        try:
            engine = runtime.engine
            seeded = seed_engine(engine, args.migrations, progress=not args.no_progress)
            meta: dict[str, Any] = {"seed": seeded.summary()}
            decoded: list[tuple[int, float]] = [decode_all(engine)]
            list_events, list_seconds, list_catch_up = rebuild(engine, "migration_list")
            decoded.append(decode_all(engine))
            work_events, work_seconds, work_catch_up = rebuild(engine, "work_summary")
            decoded.append(decode_all(engine))
        finally:
            runtime.close()
        events, seconds = min(decoded, key=lambda pair: pair[1])
        decode_rate = events / seconds
        list_rate = list_events / list_seconds
        work_rate = work_events / work_seconds
        meta["decode"] = {
            "events": events,
            "seconds": [round(s, 3) for _, s in decoded],
            "best_events_per_second": round(decode_rate),
        }
        meta["rebuild"] = {
            "migration_list": {
                "events": list_events,
                "seconds": round(list_seconds, 3),
                "catch_up_events_per_second": round(list_catch_up),
            },
            "work_summary": {
                "events": work_events,
                "seconds": round(work_seconds, 3),
                "catch_up_events_per_second": round(work_catch_up),
            },
        }
        m = f"{args.migrations // 1000}k" if args.migrations >= 1000 else str(args.migrations)
        report.add(
            Row(
                f"{kind} {m}: rebuild migration_list",
                list_rate,
                decode_rate,
                "events/s",
                target=0.7,
                notes="whole rebuild() call vs select_notifications+mapper of the same events",
            )
        )
        report.add(
            Row(
                f"{kind} {m}: rebuild work_summary",
                work_rate,
                decode_rate,
                "events/s",
                target=0.7,
                notes="whole rebuild() call vs select_notifications+mapper of the same events",
            )
        )
        if not args.no_api:
            baseline = 3.0 if args.quick else 5.0
            found = rebuild_under_load(settings, seeded, directory, baseline)
            meta["rebuild_under_load"] = found
            during, before = found["during_rebuild"], found["baseline"]
            rate = 100.0 * during["succeeded"] / during["requests"] if during["requests"] else 0.0
            before_rate = (
                100.0 * before["succeeded"] / before["requests"] if before["requests"] else 0.0
            )
            report.add(
                Row(
                    f"{kind} {m}: list requests OK during rebuild",
                    rate,
                    before_rate,
                    "%",
                    target=1.0,
                    notes=f"{during['succeeded']}/{during['requests']} succeeded during, "
                    f"{before['succeeded']}/{before['requests']} before",
                )
            )
            if during["p99_ms"] and before["p99_ms"]:
                report.add(
                    Row(
                        f"{kind} {m}: list p99 during rebuild",
                        during["p99_ms"],
                        before["p99_ms"],
                        "ms",
                        higher_is_better=False,
                        notes="informative: the rebuild process shares 2 cores with the API "
                        "and the 2 client threads",
                    )
                )
            drift = sum(found["verify"]["drifted"].values())
            meta["drift"] = drift
            print(
                f"{kind}: verify --sample 1000: {found['verify']['drifted']} "
                f"(exit {found['verify']['exit_code']}); failed list requests during rebuild: "
                f"{during['failed']}, after: {found['after_rebuild']['failed']}",
                file=sys.stderr,
            )
            healthy = (
                found["verify"]["exit_code"] == 0
                and found["rebuild_exit_code"] == 0
                and drift == 0
                and during["failed"] == 0
                and found["after_rebuild"]["failed"] == 0
            )
        report.meta[kind] = meta
    return healthy


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 migrations")
    parser.add_argument("--stores", default="sqlite", help="sqlite,postgres,memory")
    parser.add_argument("--migrations", type=int, default=None, help="default 100,000")
    parser.add_argument("--no-api", action="store_true", help="skip the rebuild under load")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.migrations is None:
        args.migrations = 5_000 if args.quick else 100_000
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("COLUMNS", "160")  # the report's table, unwrapped
    report = Report("read_models")
    report.meta.update(
        quick=args.quick,
        migrations=args.migrations,
        seeded="benchmarks.seed: Created, Started, OutputProduced x2, Completed; 10% PENDING",
        api=(
            "migration-engine serve, inline projections, broker URL set (no embedded executor), "
            "2 client threads on GET /api/authoring/migration/?limit=20 (the author owns every "
            "migration)"
        ),
    )
    healthy = True
    for kind in [s.strip() for s in args.stores.split(",") if s.strip()]:
        if kind == "memory" and not args.no_api:
            print("memory: the API cannot share an in-memory store; skipping (c)", file=sys.stderr)
        started = time.perf_counter()
        healthy &= measure_store(
            kind,
            argparse.Namespace(**{**vars(args), "no_api": args.no_api or kind == "memory"}),
            report,
        )
        report.meta.setdefault("seconds", {})[kind] = round(time.perf_counter() - started, 1)
    report.emit()
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
