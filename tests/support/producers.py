"""Output producers for tests that run real workers: slow, flaky or no-op, loaded through
MIGRATION_ENGINE_PRODUCERS="tests.support.producers:build_slow" (or build_flaky, build_noop).

Worker processes share state with the test through files in $TEST_PRODUCER_DIR, read at call
time, so a test sets the variable for its workers without re-importing anything:

- `calls.log` gets "<migration_id> <output> <pid>" when a producer call begins,
- `produced.log` gets the same line when it returns (one O_APPEND write per line, so lines
  from concurrent processes never interleave),
- `flaky-<migration_id>.count` counts the flaky producer's calls, under an flock.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from application.ports import OutputJob, OutputProducer, ProducedOutput
from interface.outputs.noop import build_noop_producers
from interface.storage.artifacts import LocalArtifactStore

DIR_VARIABLE = "TEST_PRODUCER_DIR"
SLEEP_VARIABLE = "TEST_PRODUCER_SLEEP"
FAILURES_VARIABLE = "TEST_PRODUCER_FAILURES"
CALLS_LOG = "calls.log"
PRODUCED_LOG = "produced.log"


def producer_dir() -> Path | None:
    value = os.environ.get(DIR_VARIABLE)
    return Path(value) if value else None


def append_line(name: str, job: OutputJob, output: str) -> None:
    """Record a producer call in `$TEST_PRODUCER_DIR/<name>`, if the directory is set."""
    folder = producer_dir()
    if folder is None:
        return
    line = f"{job.migration_id} {output} {os.getpid()}\n".encode()
    fd = os.open(folder / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_lines(folder: Path, name: str = PRODUCED_LOG) -> list[tuple[str, str, int]]:
    """The (migration_id, output, pid) lines of a log written by `append_line`."""
    path = folder / name
    if not path.exists():
        return []
    lines = []
    for text in path.read_text().splitlines():
        migration_id, output, pid = text.split()
        lines.append((migration_id, output, int(pid)))
    return lines


def _stored(store: LocalArtifactStore, job: OutputJob, output: str) -> ProducedOutput:
    artifact = store.write(f"{job.migration_id}/{output}/out.txt", b"x")
    return ProducedOutput(
        value={"url": artifact.url, "bytes": artifact.bytes, "sha256": artifact.sha256}
    )


class SlowProducer:
    """Takes $TEST_PRODUCER_SLEEP seconds (default 1.0) to make a one-byte output."""

    def __init__(self, name: str, store: LocalArtifactStore) -> None:
        self.name = name
        self._store = store

    def produce(self, job: OutputJob) -> ProducedOutput:
        append_line(CALLS_LOG, job, self.name)
        time.sleep(float(os.environ.get(SLEEP_VARIABLE, "1.0")))
        produced = _stored(self._store, job, self.name)
        append_line(PRODUCED_LOG, job, self.name)
        return produced


class FlakyProducer:
    """Refuses the first $TEST_PRODUCER_FAILURES calls of each migration with ConnectionError
    (a retryable failure), then makes a one-byte output; counts survive process changes."""

    def __init__(self, name: str, store: LocalArtifactStore) -> None:
        self.name = name
        self._store = store

    def produce(self, job: OutputJob) -> ProducedOutput:
        append_line(CALLS_LOG, job, self.name)
        call = self._count_call(job.migration_id)
        if call <= int(os.environ.get(FAILURES_VARIABLE, "0")):
            raise ConnectionError(f"{self.name} service refused the connection (call {call})")
        produced = _stored(self._store, job, self.name)
        append_line(PRODUCED_LOG, job, self.name)
        return produced

    def _count_call(self, migration_id: str) -> int:
        folder = producer_dir()
        if folder is None:
            raise RuntimeError(f"set {DIR_VARIABLE}: the flaky producer counts calls there")
        fd = os.open(folder / f"flaky-{migration_id}.count", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            count = int(os.read(fd, 32) or b"0") + 1
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, str(count).encode())
            return count
        finally:
            os.close(fd)  # closing releases the lock


def build_slow(store: LocalArtifactStore) -> dict[str, OutputProducer]:
    """web and size_report, each slow."""
    return {name: SlowProducer(name, store) for name in ("web", "size_report")}


def build_flaky(store: LocalArtifactStore) -> dict[str, OutputProducer]:
    """size_report only, failing its first calls of each migration."""
    return {"size_report": FlakyProducer("size_report", store)}


def build_noop(store: LocalArtifactStore) -> dict[str, OutputProducer]:
    """Every seed output, made instantly (interface.outputs.noop)."""
    return build_noop_producers(store)
