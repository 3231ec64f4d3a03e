"""API benchmark: GET detail / status / list under load, ours vs a trivial FastAPI app.

    .venv/bin/python -m benchmarks.api [--quick] [--duration 10] [--rounds 2]

Seeds one author, the sample work and ~200 completed migrations through the engine (SQLite
store, no-op producers) in a temp dir, starts `migration-engine serve` on it, captures the
detail, status and list-first-page bodies, then loads each endpoint for a fixed time with wrk
(16 connections, 2 threads, `Authorization: Bearer <token>`; a bounded asyncio/httpx load
generator with 16 connections when wrk is not installed). The reference is
benchmarks/trivial_app.py serving the same bodies from memory, run by uvicorn with the settings
`serve` uses. The two servers run alternately, never at once; the best round of each counts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import REPO, Report, Row, percentile

BIN = Path(sys.executable).parent
COMMAND = str(BIN / "migration-engine")
ROOT = "/api/authoring/migration/"
NOOP_PRODUCERS = "interface.outputs.noop:build_noop_producers"
FEATURES = {"web": True, "size_report": True}
CONNECTIONS = 16
THREADS = 2
ENDPOINTS = ("detail", "status", "list")
TARGETS = {"detail": 0.8, "status": 0.8, "list": None}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Spawned:
    """A child process in its own session (its own children die with it), output to a log."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{self.tail()}")

    def tail(self, characters: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-characters:] if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to the whole process group (pool children included)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=10)


def wait_until(what: str, ready: Callable[[], bool], child: Spawned, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        child.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}:\n{child.tail()}")
        time.sleep(0.1)


def answers(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    return check


def engine_env(values: dict[str, str], port: int) -> dict[str, str]:
    """The environment of a migration-engine command: our settings over the inherited ones
    (any MIGRATION_ENGINE_* of the caller's shell is dropped so it cannot leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGRATION_ENGINE_")}
    env.update({f"MIGRATION_ENGINE_{k.upper()}": v for k, v in values.items()})
    return {**env, "PORT": str(port), "PYTHONPATH": str(REPO)}


@dataclass(frozen=True)
class Seeded:
    token: str
    work_id: str
    migration_ids: list[str]


def seed(values: dict[str, str], migrations: int) -> Seeded:
    """An author, the sample work and `migrations` completed migrations, made through the
    engine's use cases and runner (as tests/conftest.py's make_person and import_sample do)."""
    from application.migrations import CreateMigration
    from application.settings import Settings
    from application.users import Caller
    from interface.runtime import SAMPLE_WORK, build_runtime
    from interface.storage.work_bundles import read_bundle

    runtime = build_runtime(Settings(**values), with_executor=False)  # type: ignore[arg-type]
    try:
        engine = runtime.engine
        user = engine.users.register(
            f"author-{uuid.uuid4().hex[:8]}@example.com", "author", "correct horse battery"
        )
        caller = Caller(user.id, user.role)
        manifest, files = read_bundle(SAMPLE_WORK)
        work = engine.works.register(caller, manifest, files)
        ids = []
        for _ in range(migrations):
            created = engine.migrations.create(
                caller, CreateMigration(work_id=work.id, features=FEATURES)
            )
            migration_id = created.detail["id"]
            status = engine.runner.run(migration_id)
            if status != "SUCCESS":
                raise RuntimeError(f"seeded migration {migration_id} ended {status}")
            ids.append(migration_id)
        return Seeded(engine.users.issue_token(user.id), work.id, ids)
    finally:
        runtime.close()


# ---------------------------------------------------------------------------------------------
# Load generation


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS_MS[unit]


def parse_wrk(output: str) -> Load:
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"unexpected wrk output:\n{output}")
        return match

    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return Load(
        requests_per_second=float(find(r"^Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=_ms(find(r"^\s+50%\s+(\S+)").group(1)),
        p99_ms=_ms(find(r"^\s+99%\s+(\S+)").group(1)),
        requests=int(find(r"(\d+) requests in").group(1)),
        errors=errors,
    )


def run_wrk(url: str, headers: dict[str, str], seconds: int) -> Load:
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    command += ["--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 30, check=True
    )
    return parse_wrk(done.stdout)


def run_python_load(url: str, headers: dict[str, str], seconds: float) -> Load:
    """The fallback: CONNECTIONS asyncio workers on one httpx client, each sending one request
    after another until the time is up (bounded by the duration, like wrk)."""

    async def drive() -> tuple[list[float], int, float]:
        latencies: list[float] = []
        errors = 0
        limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
        async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10) as client:
            started = time.perf_counter()
            deadline = started + seconds

            async def worker() -> None:
                nonlocal errors
                while time.perf_counter() < deadline:
                    sent = time.perf_counter()
                    try:
                        response = await client.get(url)
                        ok = response.status_code < 400
                    except httpx.HTTPError:
                        ok = False
                    latencies.append(time.perf_counter() - sent)
                    errors += not ok

            await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
            return latencies, errors, time.perf_counter() - started

    latencies, errors, elapsed = asyncio.run(drive())
    return Load(
        requests_per_second=len(latencies) / elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        requests=len(latencies),
        errors=errors,
    )


def load_tool() -> str:
    return "wrk" if shutil.which("wrk") else "python-httpx"


def generate_load(url: str, headers: dict[str, str], seconds: int) -> Load:
    if load_tool() == "wrk":
        return run_wrk(url, headers, seconds)
    return run_python_load(url, headers, seconds)


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class Setup:
    """The temp dir, the seeded store and the children: removed on the way out."""

    workdir: Path
    port: int
    values: dict[str, str]
    child: Spawned | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, name: str, command: list[str], env: dict[str, str]) -> Spawned:
        self.stop()
        self.child = Spawned(name, command, env, self.workdir / f"{name}.log")
        wait_until(name, answers(self.base_url), self.child)
        return self.child

    def start_ours(self) -> Spawned:
        return self.start("ours", [COMMAND, "serve"], engine_env(self.values, self.port))

    def start_trivial(self, bodies: Path) -> Spawned:
        command = [sys.executable, "-m", "benchmarks.trivial_app", str(bodies)]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        return self.start("trivial", command, engine_env({}, self.port))

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None


@contextmanager
def setup() -> Iterator[Setup]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-api-"))
    values = {
        "database_url": f"sqlite:///{workdir}/engine.db",
        "data_dir": str(workdir / "data"),
        "producers": NOOP_PRODUCERS,
    }
    made = Setup(workdir=workdir, port=free_port(), values=values)
    try:
        yield made
    except BaseException:
        if made.child is not None:
            print(f"----- {made.child.name} log -----\n{made.child.tail()}", file=sys.stderr)
        raise
    finally:
        made.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def paths(seeded: Seeded) -> dict[str, str]:
    middle = seeded.migration_ids[len(seeded.migration_ids) // 2]
    return {
        "detail": f"{ROOT}{middle}/",
        "status": f"{ROOT}{middle}/status/",
        "list": ROOT,
    }


def capture(base_url: str, headers: dict[str, str], where: dict[str, str]) -> dict[str, Any]:
    bodies = {}
    for name, path in where.items():
        response = httpx.get(base_url + path, headers=headers, timeout=10)
        response.raise_for_status()
        bodies[name] = response.json()
    return bodies


def measure(
    base_url: str, headers: dict[str, str], where: dict[str, str], seconds: int, warmup: int
) -> dict[str, Load]:
    found = {}
    if warmup:  # a fresh server: let it open its connections and fill its caches first
        generate_load(base_url + where["detail"], headers, warmup)
    for name in ENDPOINTS:
        found[name] = generate_load(base_url + where[name], headers, seconds)
        if found[name].errors:
            raise RuntimeError(f"{name}: {found[name].errors} failed request(s) under load")
        print(
            f"  {name:6} {found[name].requests_per_second:9,.0f} req/s  "
            f"p50 {found[name].p50_ms:6.2f} ms  p99 {found[name].p99_ms:6.2f} ms",
            flush=True,
        )
    return found


def best(runs: list[dict[str, Load]]) -> dict[str, Load]:
    """Per endpoint, the round with the most requests/s (the least disturbed one)."""
    return {
        name: max((r[name] for r in runs), key=lambda x: x.requests_per_second)
        for name in ENDPOINTS
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 s per endpoint, one round, 100 seeded"
    )
    parser.add_argument("--duration", type=int, help="seconds of load per endpoint (default 10)")
    parser.add_argument("--rounds", type=int, help="ours/trivial alternations (default 2)")
    parser.add_argument("--migrations", type=int, help="completed ones to seed (200; quick 100)")
    args = parser.parse_args(argv)
    args.migrations = args.migrations or (100 if args.quick else 200)
    args.duration = args.duration or (3 if args.quick else 10)
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.warmup = 1 if args.quick else 2
    return args


def run(args: argparse.Namespace) -> Report:
    tool = load_tool()
    load_before = [round(x, 2) for x in os.getloadavg()]
    with setup() as made:
        started = time.monotonic()
        seeded = seed(made.values, args.migrations)
        print(f"seeded {len(seeded.migration_ids)} migrations in {time.monotonic() - started:.1f}s")
        headers = {"Authorization": f"Bearer {seeded.token}"}
        where = paths(seeded)
        made.start_ours()
        bodies = capture(made.base_url, headers, where)
        if bodies["list"]["count"] != len(seeded.migration_ids):
            raise RuntimeError(f"the list shows {bodies['list']['count']} migrations")
        bodies_file = made.workdir / "bodies.json"
        bodies_file.write_text(json.dumps(bodies))
        ours_runs, trivial_runs = [], []
        for round_number in range(1, args.rounds + 1):
            if made.child is None:
                made.start_ours()
            print(f"round {round_number}: ours ({tool}, {args.duration}s each)", flush=True)
            ours_runs.append(measure(made.base_url, headers, where, args.duration, args.warmup))
            made.start_trivial(bodies_file)
            if capture(made.base_url, headers, where) != bodies:
                raise RuntimeError("the trivial app does not serve our bodies")
            print(f"round {round_number}: trivial", flush=True)
            trivial_runs.append(measure(made.base_url, headers, where, args.duration, args.warmup))
            made.stop()
        elapsed = time.monotonic() - started
    ours, trivial = best(ours_runs), best(trivial_runs)
    report = Report("api")
    for name in ENDPOINTS:
        size = len(json.dumps(bodies[name], separators=(",", ":")))
        report.add(
            Row(
                f"GET {name} throughput",
                ours[name].requests_per_second,
                trivial[name].requests_per_second,
                "req/s",
                target=TARGETS[name],
                notes=f"body ~{size} bytes; best of {args.rounds} round(s) of {args.duration}s",
            )
        )
    for name in ENDPOINTS:
        for which in ("p50", "p99"):
            report.add(
                Row(
                    f"GET {name} latency {which}",
                    getattr(ours[name], f"{which}_ms"),
                    getattr(trivial[name], f"{which}_ms"),
                    "ms",
                    higher_is_better=False,
                    notes=f"{CONNECTIONS} connections",
                )
            )
    report.meta = {
        "quick": args.quick,
        "load_tool": tool,
        "connections": CONNECTIONS,
        "threads": THREADS if tool == "wrk" else 1,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "rounds": args.rounds,
        "seeded_migrations": len(seeded.migration_ids),
        "store": "sqlite",
        "producers": NOOP_PRODUCERS,
        "uvicorn": "as `serve`: uvicorn.run(app, 1 process, log_level='info', access log on)",
        "reference": "benchmarks/trivial_app.py: sync handlers, JSONResponse of the stored bodies",
        "elapsed_s": round(elapsed, 1),
        "load_average_before_after": [load_before, [round(x, 2) for x in os.getloadavg()]],
        "runs": {
            "ours": [{k: vars(v) for k, v in r.items()} for r in ours_runs],
            "trivial": [{k: vars(v) for k, v in r.items()} for r in trivial_runs],
        },
    }
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # cleanup runs on SIGTERM too
    try:
        report = run(args)
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 130
    report.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
