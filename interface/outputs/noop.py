"""No-op producers: every output "made" instantly, for measuring the engine itself (benchmarks)."""

from __future__ import annotations

from application.ports import OutputJob, OutputProducer, ProducedOutput
from domain.migration import OUTPUTS
from interface.storage.artifacts import LocalArtifactStore


class NoopProducer:
    def __init__(self, name: str) -> None:
        self.name = name

    def produce(self, job: OutputJob) -> ProducedOutput:
        return ProducedOutput(value={"url": None, "bytes": 0, "sha256": None, "noop": True})


def build_noop_producers(store: LocalArtifactStore) -> dict[str, OutputProducer]:
    """Every seed output, produced by doing nothing."""
    return {name: NoopProducer(name) for name in OUTPUTS}
