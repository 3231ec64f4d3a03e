"""Work bundles: a folder or zip holding manifest.json and the page images it lists, checked."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image

from application.ports import WorkManifest

MANIFEST = "manifest.json"
MAX_TOTAL_BYTES = 200 * 1024 * 1024
MAX_MEMBERS = 2000
IMAGE_FORMATS = frozenset({"PNG", "JPEG"})

# Finder and Explorer add these to zips; they are never part of the work.
_JUNK_PREFIXES = ("__MACOSX/",)
_JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db"})


class BundleError(ValueError):
    """A work bundle cannot be used; the message says what is wrong, for the author."""


def read_bundle(
    source: Path,
    *,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_members: int = MAX_MEMBERS,
) -> tuple[WorkManifest, dict[str, bytes]]:
    """Read and check a bundle folder or .zip file; return its manifest and page bytes by path."""
    source = Path(source)
    if source.is_dir():
        return _read_folder(source, max_total_bytes)
    if source.is_file():
        return read_bundle_bytes(
            source.read_bytes(), max_total_bytes=max_total_bytes, max_members=max_members
        )
    raise BundleError(f"bundle '{source}' does not exist")


def read_bundle_bytes(
    data: bytes,
    *,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_members: int = MAX_MEMBERS,
) -> tuple[WorkManifest, dict[str, bytes]]:
    """Read and check a zipped bundle (an upload); return its manifest and page bytes by path."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError("not a zip file") from exc
    with archive:
        members = _zip_members(archive, max_total_bytes, max_members)

        def read(name: str) -> bytes | None:
            info = members.get(name)
            if info is None:
                return None
            try:
                return archive.read(info)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as exc:
                # RuntimeError: encrypted member; NotImplementedError: unknown compression.
                raise BundleError(f"zip member '{name}' cannot be read: {exc}") from exc

        return _assemble(read)


def store_bundle(manifest: WorkManifest, files: Mapping[str, bytes], dest: Path) -> None:
    """Write manifest.json and the pages into `dest`, replacing any earlier bundle there whole."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    pages = [_checked_page_path(page) for page in manifest.pages]
    for page in pages:
        if page not in files:
            raise BundleError(f"page '{page}' is not in the bundle")
    # Build the bundle beside its destination and rename it into place, so a reader never
    # sees a bundle with some pages missing.
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".new"))
    try:
        document = {**manifest.extra, "name": manifest.name, "sub_name": manifest.sub_name}
        document["pages"] = pages
        (staging / MANIFEST).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        for page in dict.fromkeys(pages):
            target = staging.joinpath(*PurePosixPath(page).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(files[page])
        os.chmod(staging, 0o755)
        _swap_into_place(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_into_place(staging: Path, dest: Path) -> None:
    """Rename `staging` to `dest`; an existing `dest` is moved aside first, then removed."""
    if not dest.exists():
        os.replace(staging, dest)
        return
    old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".old"))
    os.replace(dest, old / dest.name)
    os.replace(staging, dest)
    shutil.rmtree(old, ignore_errors=True)


def _read_folder(root: Path, max_total_bytes: int) -> tuple[WorkManifest, dict[str, bytes]]:
    base = root.resolve()
    budget = [max_total_bytes]

    def read(name: str) -> bytes | None:
        path = (base / name).resolve()
        # A symlink inside the folder could otherwise pull in any file on the server.
        if not path.is_relative_to(base):
            raise BundleError(f"page path '{name}' leaves the bundle")
        if not path.is_file():
            return None
        size = path.stat().st_size
        budget[0] -= size
        if budget[0] < 0:
            raise BundleError(f"bundle is larger than the limit of {max_total_bytes} bytes")
        return path.read_bytes()

    return _assemble(read)


def _zip_members(
    archive: zipfile.ZipFile, max_total_bytes: int, max_members: int
) -> dict[str, zipfile.ZipInfo]:
    """The zip's files by bundle path, after the zip-bomb guard and the top-folder strip."""
    files = [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and not info.filename.startswith(_JUNK_PREFIXES)
        and PurePosixPath(info.filename).name not in _JUNK_NAMES
    ]
    if len(files) > max_members:
        raise BundleError(f"bundle has {len(files)} files, more than the limit of {max_members}")
    # Sizes in the directory bound what zipfile will inflate, so this check precedes any read.
    total = sum(info.file_size for info in files)
    if total > max_total_bytes:
        raise BundleError(
            f"bundle unpacks to {total} bytes, more than the limit of {max_total_bytes} bytes"
        )
    members = {PurePosixPath(info.filename).as_posix(): info for info in files}
    if MANIFEST in members:
        return members
    tops = {PurePosixPath(name).parts[0] for name in members}
    nested = all(len(PurePosixPath(name).parts) > 1 for name in members)
    if len(tops) == 1 and nested:
        prefix = f"{tops.pop()}/"
        return {name.removeprefix(prefix): info for name, info in members.items()}
    return members


def _assemble(read: Callable[[str], bytes | None]) -> tuple[WorkManifest, dict[str, bytes]]:
    raw = read(MANIFEST)
    if raw is None:
        raise BundleError(f"{MANIFEST} is missing")
    manifest = parse_manifest(raw)
    pages: dict[str, bytes] = {}
    for page in manifest.pages:
        if page in pages:
            continue
        data = read(page)
        if data is None:
            raise BundleError(f"page '{page}' is not in the bundle")
        _check_image(page, data)
        pages[page] = data
    return manifest, pages


def parse_manifest(raw: bytes) -> WorkManifest:
    """Check manifest.json's content; page paths come back normalised (no './')."""
    try:
        document: Any = json.loads(raw)
    except ValueError as exc:
        raise BundleError(f"{MANIFEST} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise BundleError(f"{MANIFEST} must hold a JSON object")
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BundleError("manifest field 'name' must be a non-empty string")
    sub_name = document.get("sub_name")
    if not isinstance(sub_name, str):
        raise BundleError("manifest field 'sub_name' must be a string")
    pages = document.get("pages")
    if (
        not isinstance(pages, list)
        or not pages
        or not all(isinstance(page, str) and page for page in pages)
    ):
        raise BundleError("manifest field 'pages' must be a non-empty list of paths")
    extra = {k: v for k, v in document.items() if k not in {"name", "sub_name", "pages"}}
    return WorkManifest(
        name=name,
        sub_name=sub_name,
        pages=tuple(_checked_page_path(page) for page in pages),
        extra=extra,
    )


def _checked_page_path(page: str) -> str:
    if "\\" in page:
        raise BundleError(f"page path '{page}' must use '/' as separator")
    pure = PurePosixPath(page)
    if pure.is_absolute() or ".." in pure.parts:
        raise BundleError(f"page path '{page}' leaves the bundle")
    if not pure.parts:
        raise BundleError(f"page path '{page}' does not name an image")
    return pure.as_posix()


def _check_image(page: str, data: bytes) -> None:
    not_an_image = BundleError(f"page '{page}' is not a PNG or JPEG image")
    # Pillow only warns about moderately huge images; make that a refusal too.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                image_format = image.format
                image.verify()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise BundleError(f"page '{page}' has too many pixels") from exc
        except Exception as exc:  # Pillow raises many types for corrupt data; all mean "bad page".
            raise not_an_image from exc
    if image_format not in IMAGE_FORMATS:
        raise not_an_image
