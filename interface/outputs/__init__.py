"""Output producers: each makes one kind of output of a migration and stores its artifacts."""

from __future__ import annotations

from application.ports import OutputProducer
from interface.outputs.size_report import SizeReportProducer
from interface.outputs.web import WebReaderProducer
from interface.storage.artifacts import LocalArtifactStore


def build_producers(store: LocalArtifactStore) -> dict[str, OutputProducer]:
    """The producers this deployment can run, by output name."""
    producers: list[OutputProducer] = [WebReaderProducer(store), SizeReportProducer(store)]
    return {producer.name: producer for producer in producers}
