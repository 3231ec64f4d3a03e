"""Work bundles: reading a folder or zip, every way it can be wrong, and storing it."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from application.ports import WorkManifest
from interface.storage.work_bundles import (
    BundleError,
    read_bundle,
    read_bundle_bytes,
    store_bundle,
)

SAMPLE_WORK = Path(__file__).parents[2] / "examples" / "sample-work"


def image_bytes(image_format: str = "PNG", size: tuple[int, int] = (40, 60)) -> bytes:
    out = io.BytesIO()
    with Image.new("RGB", size, (200, 40, 40)) as image:
        image.save(out, format=image_format)
    return out.getvalue()


def manifest_bytes(**fields: Any) -> bytes:
    document: dict[str, Any] = {
        "name": "The Lighthouse",
        "sub_name": "Issue 1",
        "pages": ["pages/01.png", "pages/02.jpg"],
    }
    document.update(fields)
    return json.dumps(document).encode()


def bundle_files(**manifest_fields: Any) -> dict[str, bytes]:
    return {
        "manifest.json": manifest_bytes(**manifest_fields),
        "pages/01.png": image_bytes("PNG"),
        "pages/02.jpg": image_bytes("JPEG"),
    }


def write_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def zip_bytes(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_a_folder_bundle_gives_its_manifest_and_pages_in_reading_order(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "work", bundle_files(credits="Ana & Bo"))

    manifest, pages = read_bundle(folder)

    assert manifest.name == "The Lighthouse"
    assert manifest.sub_name == "Issue 1"
    assert manifest.pages == ("pages/01.png", "pages/02.jpg")
    assert manifest.extra == {"credits": "Ana & Bo"}
    assert pages == {
        "pages/01.png": (folder / "pages/01.png").read_bytes(),
        "pages/02.jpg": (folder / "pages/02.jpg").read_bytes(),
    }


def test_the_sample_work_is_a_valid_bundle() -> None:
    manifest, pages = read_bundle(SAMPLE_WORK)

    assert manifest.name == "The Lighthouse"
    assert list(pages) == list(manifest.pages)


def test_a_zip_file_reads_like_the_folder_it_holds(tmp_path: Path) -> None:
    files = bundle_files()
    archive = tmp_path / "work.zip"
    archive.write_bytes(zip_bytes(files))

    manifest, pages = read_bundle(archive)

    assert manifest.pages == ("pages/01.png", "pages/02.jpg")
    assert pages["pages/01.png"] == files["pages/01.png"]


def test_a_zip_of_one_top_level_folder_is_read_from_inside_that_folder() -> None:
    files = {f"lighthouse/{name}": data for name, data in bundle_files().items()}
    # Finder adds this folder when compressing on a Mac; it must not count as a second top.
    files["__MACOSX/lighthouse/._manifest.json"] = b"junk"

    manifest, pages = read_bundle_bytes(zip_bytes(files))

    assert manifest.pages == ("pages/01.png", "pages/02.jpg")
    assert set(pages) == {"pages/01.png", "pages/02.jpg"}


def test_page_paths_are_normalised_and_unlisted_files_are_not_returned() -> None:
    files = bundle_files(pages=["./pages/01.png"])
    files["notes.txt"] = b"draft notes"

    manifest, pages = read_bundle_bytes(zip_bytes(files))

    assert manifest.pages == ("pages/01.png",)
    assert list(pages) == ["pages/01.png"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"pages/01.png": image_bytes()}, "manifest.json is missing"),
        ({"manifest.json": b"{not json"}, "manifest.json is not valid JSON: "),
        ({"manifest.json": b"[1, 2]"}, "manifest.json must hold a JSON object"),
        (
            {"manifest.json": manifest_bytes(name="  ")},
            "manifest field 'name' must be a non-empty string",
        ),
        (
            {"manifest.json": manifest_bytes(name=7)},
            "manifest field 'name' must be a non-empty string",
        ),
        (
            {"manifest.json": manifest_bytes(sub_name=None)},
            "manifest field 'sub_name' must be a string",
        ),
        (
            {"manifest.json": manifest_bytes(pages=[])},
            "manifest field 'pages' must be a non-empty list of paths",
        ),
        (
            {"manifest.json": manifest_bytes(pages="pages/01.png")},
            "manifest field 'pages' must be a non-empty list of paths",
        ),
        (
            {"manifest.json": manifest_bytes(pages=["p1.png", 3])},
            "manifest field 'pages' must be a non-empty list of paths",
        ),
        (
            {"manifest.json": manifest_bytes(pages=["p3.png"])},
            "page 'p3.png' is not in the bundle",
        ),
        (
            {"manifest.json": manifest_bytes(pages=["x.png"]), "x.png": b"not an image"},
            "page 'x.png' is not a PNG or JPEG image",
        ),
        (
            {"manifest.json": manifest_bytes(pages=["x.gif"]), "x.gif": image_bytes("GIF")},
            "page 'x.gif' is not a PNG or JPEG image",
        ),
        (
            {"manifest.json": manifest_bytes(pages=["x.png"]), "x.png": image_bytes()[:60]},
            "page 'x.png' is not a PNG or JPEG image",
        ),
        (
            {"manifest.json": manifest_bytes(pages=["../x.png"])},
            "page path '../x.png' leaves the bundle",
        ),
        (
            {"manifest.json": manifest_bytes(pages=["/etc/x.png"])},
            "page path '/etc/x.png' leaves the bundle",
        ),
        (
            {"manifest.json": manifest_bytes(pages=["pages\\01.png"])},
            "page path 'pages\\01.png' must use '/' as separator",
        ),
    ],
)
def test_a_broken_bundle_is_refused_with_a_message_naming_the_problem(
    tmp_path: Path, files: dict[str, bytes], message: str
) -> None:
    folder = write_folder(tmp_path / "work", files)

    with pytest.raises(BundleError, match=re.escape(message)):
        read_bundle(folder)
    with pytest.raises(BundleError, match=re.escape(message)):
        read_bundle_bytes(zip_bytes(files))


def test_a_symlink_out_of_a_folder_bundle_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(image_bytes())
    folder = write_folder(tmp_path / "work", {"manifest.json": manifest_bytes(pages=["p.png"])})
    (folder / "p.png").symlink_to(secret)

    with pytest.raises(BundleError, match=re.escape("page path 'p.png' leaves the bundle")):
        read_bundle(folder)


def test_an_upload_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not a zip file"):
        read_bundle_bytes(b"PK but not really")
    upload = tmp_path / "work.zip"
    upload.write_bytes(image_bytes())
    with pytest.raises(BundleError, match="not a zip file"):
        read_bundle(upload)


def test_a_missing_bundle_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        read_bundle(tmp_path / "nowhere")


def test_a_zip_with_too_many_files_is_refused_before_anything_is_read() -> None:
    files = bundle_files()
    files.update({f"extra/{n}.txt": b"" for n in range(10)})

    with pytest.raises(BundleError, match="bundle has 13 files, more than the limit of 12"):
        read_bundle_bytes(zip_bytes(files), max_members=12)


def test_a_zip_that_inflates_past_the_limit_is_refused() -> None:
    files = bundle_files()
    # A megabyte of zeros deflates to about a kilobyte: the shape of a zip bomb.
    files["padding.bin"] = bytes(1024 * 1024)
    data = zip_bytes(files)
    assert len(data) < 64 * 1024

    with pytest.raises(BundleError, match="more than the limit of 524288 bytes"):
        read_bundle_bytes(data, max_total_bytes=512 * 1024)


def test_a_folder_whose_pages_exceed_the_limit_is_refused(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "work", bundle_files())

    with pytest.raises(BundleError, match="larger than the limit of 100 bytes"):
        read_bundle(folder, max_total_bytes=100)


def test_a_stored_bundle_keeps_only_the_manifest_and_its_pages(tmp_path: Path) -> None:
    files = bundle_files(credits="Ana")
    files["notes.txt"] = b"draft"
    manifest, pages = read_bundle_bytes(zip_bytes(files))
    dest = tmp_path / "works" / "w-1"

    store_bundle(manifest, pages, dest)

    stored = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert stored == ["manifest.json", "pages/01.png", "pages/02.jpg"]
    assert read_bundle(dest) == (manifest, pages)
    assert [p.name for p in (tmp_path / "works").iterdir()] == ["w-1"]


def test_storing_again_replaces_the_earlier_bundle_whole(tmp_path: Path) -> None:
    dest = tmp_path / "w-1"
    first, first_pages = read_bundle_bytes(zip_bytes(bundle_files()))
    store_bundle(first, first_pages, dest)
    second = WorkManifest(name="Second", sub_name="", pages=("cover.png",))

    store_bundle(second, {"cover.png": image_bytes()}, dest)

    manifest, pages = read_bundle(dest)
    assert manifest.name == "Second"
    assert list(pages) == ["cover.png"]
    assert not (dest / "pages").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["w-1"]


def test_storing_a_bundle_without_one_of_its_pages_is_refused(tmp_path: Path) -> None:
    manifest = WorkManifest(name="Lost", sub_name="", pages=("p1.png",))

    with pytest.raises(BundleError, match=re.escape("page 'p1.png' is not in the bundle")):
        store_bundle(manifest, {}, tmp_path / "w-1")
    assert list(tmp_path.iterdir()) == []
