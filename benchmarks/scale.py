"""Scale: detail, status and list latency with a small vs a large store, and the server's RSS.

    .venv/bin/python -m benchmarks.scale [--quick] [--stores sqlite,postgres]
        [--small 10000] [--large 1000000] [--lifecycle created|full] [--calls 300]

For each store kind, two stores are seeded (benchmarks.seed, Created events only by default;
sizes 10,000 and 1,000,000, or 1,000 and 20,000 with --quick), both kept open, and each figure
is measured on both in interleaved rounds: p50 over 300 (--quick: 60) in-process calls of
`engine.migrations.detail`, `.status` and `.page` (first page of 20), then the same through
FastAPI's TestClient. Ratio =
small / large (lower latency is better; target 1/1.2). The list is asked for by the seeded
author (who owns every seeded migration), by an admin (no filter), with a status filter, and
by a second author who owns only 200 migrations in either store. For the list, the COUNT(*)
and the page SELECT are also timed apart, with the query plans (EXPLAIN QUERY PLAN on SQLite,
EXPLAIN ANALYZE on PostgreSQL) kept in the JSON. Finally `migration-engine serve` runs on
each store and its RSS is read after 200 list/detail requests.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from application.migrations import Migrations
from application.read_models.migration_list import ListQuery
from application.read_models.migration_list_stores import COUNTS
from application.users import Caller
from benchmarks.common import Report, Row, median
from benchmarks.read_models import engine_env, serving, store
from benchmarks.seed import Seeded, bench_settings, make_author, seed_engine
from interface.http.app import create_app
from interface.runtime import Runtime, build_runtime

ROUNDS = 3
OTHER_AUTHOR_MIGRATIONS = 200
SQL_REPEATS = 30
QUICK_STORES = "sqlite"
"""--quick seeds 21,000 migrations per store kind: PostgreSQL too would not fit in a minute."""
SERVER_REQUESTS = 200


@dataclass
class Subject:
    """One seeded store, open, with whom and what to ask for."""

    label: str
    size: int
    runtime: Runtime
    seeded: Seeded
    other: Seeded
    admin: Caller
    author: Caller
    client: TestClient
    ids: list[str]
    seconds_to_seed: float

    @property
    def migrations(self) -> Migrations:
        return self.runtime.engine.migrations


def open_subject(
    label: str, size: int, url: str, directory: Path, args: argparse.Namespace
) -> Subject:
    settings = bench_settings(url, directory / "data", projections="inline")
    runtime = build_runtime(settings, with_executor=False)
    started = time.perf_counter()
    engine = runtime.engine
    full = args.lifecycle == "full"
    # The second author's migrations go in first: the oldest, behind every seeded one in the
    # newest-first order, where a filtered page has to look for them.
    other = seed_engine(
        engine,
        OTHER_AUTHOR_MIGRATIONS,
        progress=False,
        author=make_author(engine),
        lifecycle=full,
        pending_fraction=0.1 if full else 1.0,
        rng_seed=43,
        catch_up=False,
    )
    seeded = seed_engine(
        engine,
        size,
        progress=not args.no_progress,
        lifecycle=full,
        pending_fraction=0.1 if full else 1.0,
    )
    seconds = time.perf_counter() - started
    admin = engine.users.register(f"admin-{label}@example.com", "admin", "admin password")
    rng = random.Random(11)
    ids = [rng.choice(seeded.migration_ids) for _ in range(args.calls)]
    return Subject(
        label=label,
        size=size,
        runtime=runtime,
        seeded=seeded,
        other=other,
        admin=Caller(admin.id, admin.role),
        author=Caller(seeded.author_id, "author"),
        client=TestClient(create_app(runtime=runtime)),
        ids=ids,
        seconds_to_seed=seconds,
    )


# What is timed --------------------------------------------------------------------------------

Probe = Callable[["Subject", int], Any]


def _check(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.url} answered {response.status_code}")


def _http(subject: Subject, path: str, token: str | None = None) -> None:
    headers = {"Authorization": f"Bearer {token or subject.seeded.token}"}
    _check(subject.client.get(path, headers=headers))


PROBES: dict[str, Probe] = {
    "detail": lambda s, i: s.migrations.detail(s.author, s.ids[i]),
    "status": lambda s, i: s.migrations.status(s.author, s.ids[i]),
    "list, author (owns all)": lambda s, i: s.migrations.page(s.author, ListQuery(limit=20)),
    "list, admin (no filter)": lambda s, i: s.migrations.page(s.admin, ListQuery(limit=20)),
    "list, author, status filter": lambda s, i: s.migrations.page(
        s.author, ListQuery(limit=20, status="PENDING")
    ),
    "list, author, work filter": lambda s, i: s.migrations.page(
        s.author, ListQuery(limit=20, work_id=s.seeded.work_id)
    ),
    f"list, author of {OTHER_AUTHOR_MIGRATIONS} (oldest)": lambda s, i: s.migrations.page(
        Caller(s.other.author_id, "author"), ListQuery(limit=20)
    ),
    f"list, author of {OTHER_AUTHOR_MIGRATIONS}, status filter": lambda s, i: s.migrations.page(
        Caller(s.other.author_id, "author"), ListQuery(limit=20, status="PENDING")
    ),
    "HTTP detail": lambda s, i: _http(s, f"/api/authoring/migration/{s.ids[i]}/"),
    "HTTP status": lambda s, i: _http(s, f"/api/authoring/migration/{s.ids[i]}/status/"),
    "HTTP list": lambda s, i: _http(s, "/api/authoring/migration/?limit=20"),
}


def time_calls(
    subject: Subject, probe: Probe, start: int, count: int, budget: float
) -> list[float]:
    """Up to `count` timed calls, fewer (at least 3) when they take longer than `budget` s."""
    timings: list[float] = []
    deadline = time.perf_counter() + budget
    for index in range(start, start + count):
        began = time.perf_counter()
        probe(subject, index % len(subject.ids))
        timings.append(time.perf_counter() - began)
        if len(timings) >= 3 and began > deadline:
            break
    return timings


def measure_probes(
    small: Subject, large: Subject, calls: int, budget: float
) -> tuple[dict[str, tuple[float, float]], dict[str, dict[str, int]]]:
    """p50 (ms) of each probe on both stores, measured in alternating rounds; and how many
    calls each p50 is over (a slow probe stops at `budget` seconds per store)."""
    results: dict[str, tuple[float, float]] = {}
    counted: dict[str, dict[str, int]] = {}
    per_round = calls // ROUNDS
    for name, probe in PROBES.items():
        for subject in (small, large):  # warm up: caches, prepared statements, first pages
            time_calls(subject, probe, 0, 3, budget)
        timings: dict[str, list[float]] = {small.label: [], large.label: []}
        for round_number in range(ROUNDS):
            order = (small, large) if round_number % 2 == 0 else (large, small)
            for subject in order:
                timings[subject.label] += time_calls(
                    subject, probe, round_number * per_round, per_round, budget / ROUNDS
                )
        results[name] = (
            median(timings[small.label]) * 1000,
            median(timings[large.label]) * 1000,
        )
        counted[name] = {label: len(values) for label, values in timings.items()}
    return results, counted


# The list's SQL, taken apart ------------------------------------------------------------------


def list_sql(subject: Subject) -> dict[str, tuple[str, list[Any]]]:
    """The statements behind a list page, as the view writes them (see migration_list_stores)."""
    view: Any = subject.runtime.engine.list_projection.view
    view.refresh(force=True)
    table, counts, mark = view.table("migration_list"), view.table(COUNTS), view.mark
    order = "ORDER BY created DESC, id DESC LIMIT 20"
    owner, other, work = subject.seeded.author_id, subject.other.author_id, subject.seeded.work_id
    page = f"SELECT detail FROM {table}"
    count = f"SELECT COUNT(*) AS n FROM {table}"
    return {
        "counts table, owner": (
            f"SELECT COALESCE(SUM(n), 0) AS n FROM {counts} WHERE owner_id = {mark}",
            [owner],
        ),
        "COUNT(*), no filter": (count, []),
        "COUNT(*), owner": (f"{count} WHERE owner_id = {mark}", [owner]),
        "COUNT(*), owner + work": (
            f"{count} WHERE owner_id = {mark} AND work_id = {mark}",
            [owner, work],
        ),
        "page, owner": (f"{page} WHERE owner_id = {mark} {order}", [owner]),
        "page, owner + status": (
            f"{page} WHERE owner_id = {mark} AND status = {mark} {order}",
            [owner, "PENDING"],
        ),
        "page, oldest owner + status": (
            f"{page} WHERE owner_id = {mark} AND status = {mark} {order}",
            [other, "PENDING"],
        ),
        "page, owner + work": (
            f"{page} WHERE owner_id = {mark} AND work_id = {mark} {order}",
            [owner, work],
        ),
        "page, owner, offset = half": (
            f"{page} WHERE owner_id = {mark} {order} OFFSET {subject.size // 2}",
            [owner],
        ),
    }


def _rows_text(rows: list[Any]) -> list[str]:
    lines = []
    for row in rows:
        values = list(row.values()) if isinstance(row, dict) else list(tuple(row))
        lines.append(" | ".join(str(value) for value in values))
    return lines


def explain_and_time(
    subject: Subject, postgres: bool, repeats: int, budget: float
) -> dict[str, Any]:
    view: Any = subject.runtime.engine.list_projection.view
    found: dict[str, Any] = {}
    for name, (sql, params) in list_sql(subject).items():
        timings: list[float] = []
        deadline = time.perf_counter() + budget
        for _ in range(repeats):
            with view.cursor(commit=False) as cursor:
                began = time.perf_counter()
                cursor.execute(sql, params)
                cursor.fetchall()
                timings.append(time.perf_counter() - began)
            if len(timings) >= 3 and began > deadline:
                break
        prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
        with view.cursor(commit=False) as cursor:
            cursor.execute(prefix + sql, params)
            plan = _rows_text(cursor.fetchall())
        found[name] = {"p50_ms": round(median(timings) * 1000, 3), "runs": len(timings)}
        found[name]["plan"] = plan
    return found


# The server's memory ---------------------------------------------------------------------------


def server_rss(subject: Subject, directory: Path) -> dict[str, int]:
    """RSS (KiB) of `migration-engine serve` on this store, at start and after the requests."""
    settings = subject.runtime.settings
    env = engine_env(settings, PROJECTIONS="inline")
    found: dict[str, int] = {}
    with serving(env, directory / f"server-{subject.label}.log") as server:
        found["rss_kib_ready"] = server.rss_kib()
        headers = {"Authorization": f"Bearer {subject.seeded.token}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
            for index in range(SERVER_REQUESTS):
                if index % 2:
                    path = f"/api/authoring/migration/{subject.ids[index % len(subject.ids)]}/"
                else:
                    path = f"/api/authoring/migration/?limit=20&offset={index // 2 * 20}"
                _check(client.get(path))
        found["rss_kib_after_requests"] = server.rss_kib()
    return found


# The benchmark ---------------------------------------------------------------------------------


def label(size: int) -> str:
    return f"{size // 1_000_000}M" if size >= 1_000_000 else f"{size // 1000}k"


def measure_store(kind: str, args: argparse.Namespace, report: Report) -> None:
    began = time.perf_counter()
    with contextlib.ExitStack() as stack:
        small_url, small_dir = stack.enter_context(store(kind, "scale"))
        large_url, large_dir = stack.enter_context(store(kind, "scale"))
        small = open_subject(label(args.small), args.small, small_url, small_dir, args)
        stack.callback(small.runtime.close)
        large = open_subject(label(args.large), args.large, large_url, large_dir, args)
        stack.callback(large.runtime.close)
        subjects = (small, large)
        meta: dict[str, Any] = {
            "seed": {
                s.label: {**s.seeded.summary(), "seconds": round(s.seconds_to_seed, 1)}
                for s in subjects
            },
        }
        phases = {"seed": round(time.perf_counter() - began, 1)}
        print(f"{kind}: seeded in {phases['seed']} s; measuring", file=sys.stderr)
        probes, counted = measure_probes(small, large, args.calls, args.probe_budget)
        meta["calls"] = counted
        phases["probes"] = round(time.perf_counter() - began - sum(phases.values()), 1)
        meta["p50_ms"] = {
            name: {small.label: round(a, 3), large.label: round(b, 3)}
            for name, (a, b) in probes.items()
        }
        for name, (small_ms, large_ms) in probes.items():
            report.add(
                Row(
                    f"{kind} {name}: {large.label} vs {small.label}",
                    large_ms,
                    small_ms,
                    "ms",
                    higher_is_better=False,
                    target=0.83,
                    notes=f"p50 of {counted[name][large.label]} calls",
                )
            )
        postgres = kind == "postgres"
        repeats = SQL_REPEATS // 3 if args.quick else SQL_REPEATS
        meta["list_sql"] = {
            small.label: explain_and_time(small, postgres, repeats, args.probe_budget / 2),
            large.label: explain_and_time(large, postgres, repeats, args.probe_budget / 2),
        }
        for name in list_sql(small):
            report.add(
                Row(
                    f"{kind} SQL {name}: {large.label} vs {small.label}",
                    meta["list_sql"][large.label][name]["p50_ms"],
                    meta["list_sql"][small.label][name]["p50_ms"],
                    "ms",
                    higher_is_better=False,
                    notes=f"informative: p50 of {repeats} runs of the list's SQL alone",
                )
            )
        phases["sql"] = round(time.perf_counter() - began - sum(phases.values()), 1)
        rss = {s.label: server_rss(s, d) for s, d in ((small, small_dir), (large, large_dir))}
        phases["server"] = round(time.perf_counter() - began - sum(phases.values()), 1)
        meta["phase_seconds"] = phases
        print(f"{kind}: phases (s): {phases}", file=sys.stderr)
        meta["server_rss_kib"] = rss
        report.add(
            Row(
                f"{kind} server RSS after {SERVER_REQUESTS} requests: {large.label} vs "
                f"{small.label}",
                rss[large.label]["rss_kib_after_requests"] / 1024,
                rss[small.label]["rss_kib_after_requests"] / 1024,
                "MiB",
                higher_is_better=False,
                notes="informative: migration-engine serve (broker set, no embedded executor)",
            )
        )
        report.meta[kind] = meta


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 vs 20,000")
    parser.add_argument("--stores", default=None, help="sqlite,postgres (default; --quick: sqlite)")
    parser.add_argument("--small", type=int, default=None)
    parser.add_argument("--large", type=int, default=None)
    parser.add_argument(
        "--lifecycle",
        choices=("full", "created"),
        default="created",
        help="full: 5-event lifecycles (10%% PENDING); created: Created events only (all "
        "PENDING; the default: a million full lifecycles take too long to seed)",
    )
    parser.add_argument("--calls", type=int, default=None, help="per figure (300; quick 60)")
    parser.add_argument(
        "--probe-budget",
        type=float,
        default=None,
        help="seconds per figure and store before a slow probe stops (20; quick 3)",
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    args.probe_budget = args.probe_budget or (3.0 if args.quick else 20.0)
    args.calls = args.calls or (60 if args.quick else 300)
    args.stores = args.stores or (QUICK_STORES if args.quick else "sqlite,postgres")
    args.small = args.small or (1_000 if args.quick else 10_000)
    args.large = args.large or (20_000 if args.quick else 1_000_000)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("COLUMNS", "160")  # the report's table, unwrapped
    report = Report("scale")
    report.meta.update(
        quick=args.quick,
        small=args.small,
        large=args.large,
        seeded=(
            "Created, Started, OutputProduced x2, Completed (10% left PENDING)"
            if args.lifecycle == "full"
            else "Created events only (every migration PENDING)"
        )
        + f"; one author owns them all, plus an author of {OTHER_AUTHOR_MIGRATIONS}",
    )
    for kind in [s.strip() for s in args.stores.split(",") if s.strip()]:
        started = time.perf_counter()
        measure_store(kind, args, report)
        report.meta.setdefault("seconds", {})[kind] = round(time.perf_counter() - started, 1)
        print(f"{kind}: done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    report.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
