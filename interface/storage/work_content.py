"""Works' source files in a local folder: <works_dir>/<work id>/manifest.json and its pages."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from application.ports import WorkManifest
from interface.storage.work_bundles import store_bundle


class LocalWorkContent:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, work_id: str, manifest: WorkManifest, files: Mapping[str, bytes]) -> None:
        store_bundle(manifest, files, self.root / work_id)

    def root_of(self, work_id: str) -> str:
        return str(self.root / work_id)
