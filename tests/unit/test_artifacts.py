"""The local artifact store: keys, URLs and atomic writes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from interface.storage.artifacts import LocalArtifactStore


def test_a_written_artifact_can_be_found_by_its_url_and_path(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)

    stored = store.write("m-1a2b/web/index.html", b"<!doctype html>")

    assert stored.url == "/outputs/m-1a2b/web/index.html"
    assert stored.path == tmp_path / "m-1a2b" / "web" / "index.html"
    assert stored.path.read_bytes() == b"<!doctype html>"
    assert stored.bytes == len(b"<!doctype html>")
    assert stored.sha256 == hashlib.sha256(b"<!doctype html>").hexdigest()


def test_urls_follow_the_configured_base(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path, base_url="https://cdn.example.com/outputs/")

    assert store.url_for("m-1/size_report/report.json") == (
        "https://cdn.example.com/outputs/m-1/size_report/report.json"
    )
    assert store.path_for("m-1/size_report/report.json") == (
        tmp_path / "m-1" / "size_report" / "report.json"
    )


def test_a_retried_output_rewrites_its_artifact_and_leaves_no_temporary_files(
    tmp_path: Path,
) -> None:
    store = LocalArtifactStore(tmp_path)
    store.write("m-1/web/script.json", b"first attempt")

    stored = store.write("m-1/web/script.json", b"second")

    assert stored.path.read_bytes() == b"second"
    assert os.listdir(stored.path.parent) == ["script.json"]


def test_a_write_that_fails_midway_keeps_the_previous_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalArtifactStore(tmp_path)
    store.write("m-1/web/index.html", b"version one")

    def crash(src: str, dst: str) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk went away"):
        store.write("m-1/web/index.html", b"version two")

    assert (tmp_path / "m-1" / "web" / "index.html").read_bytes() == b"version one"
    assert os.listdir(tmp_path / "m-1" / "web") == ["index.html"]


@pytest.mark.parametrize(
    "key", ["../escape.txt", "m-1/../../escape.txt", "/etc/passwd", "m-1\\web\\x.html", "", "."]
)
def test_keys_that_could_leave_the_store_are_refused(tmp_path: Path, key: str) -> None:
    store = LocalArtifactStore(tmp_path)

    with pytest.raises(ValueError, match="invalid artifact key"):
        store.write(key, b"x")
    with pytest.raises(ValueError):
        store.url_for(key)
    assert list(tmp_path.iterdir()) == []
