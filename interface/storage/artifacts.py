"""The artifact store: where producers put the files an output is made of."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class StoredArtifact:
    """One file written to the store: its public URL, size, digest and local path."""

    url: str
    bytes: int
    sha256: str
    path: Path


class LocalArtifactStore:
    """Artifacts in a local folder, served by the HTTP app under `base_url`."""

    def __init__(self, root: Path, base_url: str = "/outputs") -> None:
        self.root = Path(root)
        self.base_url = base_url.rstrip("/")

    def write(self, key: str, data: bytes) -> StoredArtifact:
        """Store `data` under `key`, replacing any earlier version atomically."""
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target then rename, so readers never see a half-written file
        # and a retried output can simply rewrite its artifacts.
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            # mkstemp makes the file private; artifacts are public, so open them up to readers.
            os.chmod(tmp_name, 0o644)
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StoredArtifact(
            url=self.url_for(key),
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            path=path,
        )

    def url_for(self, key: str) -> str:
        """The public URL of `key`."""
        return f"{self.base_url}/{_checked_key(key)}"

    def path_for(self, key: str) -> Path:
        """The local file that holds `key`."""
        return self.root.joinpath(*PurePosixPath(_checked_key(key)).parts)


def _checked_key(key: str) -> str:
    """Refuse keys that could escape the store's root or mean different files on Windows."""
    if not key or "\\" in key:
        raise ValueError(f"invalid artifact key {key!r}")
    pure = PurePosixPath(key)
    if pure.is_absolute() or not pure.parts or ".." in pure.parts or key.endswith("/"):
        raise ValueError(f"invalid artifact key {key!r}")
    return pure.as_posix()
