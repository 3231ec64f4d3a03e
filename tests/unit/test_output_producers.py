"""The web reader and size report producers, on the sample work and on made-up pages."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

from PIL import Image

from application.ports import OutputJob, WorkSource
from interface.outputs import build_producers
from interface.outputs.size_report import SizeReportProducer, render_for_width
from interface.outputs.web import WebReaderProducer
from interface.storage.artifacts import LocalArtifactStore

SAMPLE_WORK = Path(__file__).parents[2] / "examples" / "sample-work"
SAMPLE_PAGES = ("pages/01.png", "pages/02.png", "pages/03.png", "pages/04.jpg")


def job_for(
    root: Path, pages: tuple[str, ...], name: str = "The Lighthouse", sub_name: str = "Issue 1"
) -> OutputJob:
    work = WorkSource(
        work_id="w-1", name=name, sub_name=sub_name, owner_id="u-1", root=str(root), pages=pages
    )
    return OutputJob(
        migration_id="m-abc", work=work, features={}, encrypted=False, unencrypted=True
    )


def save_image(path: Path, size: tuple[int, int], mode: str = "RGB", alpha: int = 255) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    color = (30, 120, 200, alpha) if mode == "RGBA" else (30, 120, 200)
    with Image.new(mode, size, color) as image:
        image.save(path)


def test_the_web_reader_holds_every_page_in_reading_order(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "outputs")

    WebReaderProducer(store).produce(job_for(SAMPLE_WORK, SAMPLE_PAGES))

    web = tmp_path / "outputs" / "m-abc" / "web"
    script = json.loads((web / "script.json").read_text())
    assert script["work"] == {"id": "w-1", "name": "The Lighthouse", "sub_name": "Issue 1"}
    assert [page["image"] for page in script["pages"]] == [
        "pages/001.png",
        "pages/002.png",
        "pages/003.png",
        "pages/004.jpg",
    ]
    assert [page["index"] for page in script["pages"]] == [0, 1, 2, 3]
    for page, source in zip(script["pages"], SAMPLE_PAGES, strict=True):
        assert (web / page["image"]).read_bytes() == (SAMPLE_WORK / source).read_bytes()
        assert (page["width"], page["height"]) == (800, 1200)


def test_the_web_reader_reports_its_url_size_digest_and_script(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "outputs")

    produced = WebReaderProducer(store).produce(job_for(SAMPLE_WORK, SAMPLE_PAGES))

    web = tmp_path / "outputs" / "m-abc" / "web"
    index = (web / "index.html").read_bytes()
    written = [path for path in web.rglob("*") if path.is_file()]
    assert produced.value == {
        "url": "/outputs/m-abc/web/index.html",
        "bytes": sum(path.stat().st_size for path in written),
        "sha256": hashlib.sha256(index).hexdigest(),
        "pages": 4,
    }
    assert produced.web_script == "/outputs/m-abc/web/script.json"
    assert len(written) == 6


def test_the_reader_page_loads_its_script_by_relative_url_and_has_navigation(
    tmp_path: Path,
) -> None:
    store = LocalArtifactStore(tmp_path / "outputs")

    WebReaderProducer(store).produce(job_for(SAMPLE_WORK, SAMPLE_PAGES))

    index = (tmp_path / "outputs" / "m-abc" / "web" / "index.html").read_text()
    assert index.startswith("<!doctype html>")
    assert "<title>The Lighthouse — Issue 1</title>" in index
    assert 'fetch("script.json")' in index
    assert 'id="prev"' in index and 'id="next"' in index
    assert "ArrowLeft" in index and "ArrowRight" in index
    assert "/outputs" not in index and "http" not in index.replace("HTTP ", "")


def test_the_reader_title_is_escaped(tmp_path: Path) -> None:
    save_image(tmp_path / "work" / "p.png", (20, 30))
    store = LocalArtifactStore(tmp_path / "outputs")
    job = job_for(tmp_path / "work", ("p.png",), name="<Ghosts> & Co", sub_name="")

    WebReaderProducer(store).produce(job)

    index = (tmp_path / "outputs" / "m-abc" / "web" / "index.html").read_text()
    assert "<title>&lt;Ghosts&gt; &amp; Co</title>" in index
    assert "<Ghosts>" not in index


def test_the_size_report_weighs_every_page_at_every_device_size(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "outputs")

    produced = SizeReportProducer(store).produce(job_for(SAMPLE_WORK, SAMPLE_PAGES))

    path = tmp_path / "outputs" / "m-abc" / "size_report" / "report.json"
    report = json.loads(path.read_text())
    source_sizes = [(SAMPLE_WORK / page).stat().st_size for page in SAMPLE_PAGES]
    assert produced.value["url"] == "/outputs/m-abc/size_report/report.json"
    assert produced.value["bytes"] == path.stat().st_size
    assert produced.value["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert produced.value["report"]["source_bytes"] == sum(source_sizes)
    devices = produced.value["report"]["devices"]
    assert {name: device["width"] for name, device in devices.items()} == {
        "phone": 750,
        "tablet": 1536,
        "desktop": 2560,
    }
    assert [page["path"] for page in report["pages"]] == list(SAMPLE_PAGES)
    assert [page["source_bytes"] for page in report["pages"]] == source_sizes
    for name, device in devices.items():
        assets = sum(page["sizes"][name] for page in report["pages"])
        assert device["assets_bytes"] == assets > 0
        assert device["package_bytes"] > assets
    assert report["devices"] == devices


def test_small_pages_are_never_upscaled(tmp_path: Path) -> None:
    save_image(tmp_path / "work" / "small.png", (300, 450))
    store = LocalArtifactStore(tmp_path / "outputs")

    produced = SizeReportProducer(store).produce(job_for(tmp_path / "work", ("small.png",)))

    report = produced.value["report"]
    # Every device gets the same 300 px wide page, so every device weighs the same.
    assert len({device["assets_bytes"] for device in report["devices"].values()}) == 1
    with Image.open(tmp_path / "work" / "small.png") as image:
        encoded, _ = render_for_width(image, 2560)
    with Image.open(io.BytesIO(encoded)) as rendered:
        assert rendered.size == (300, 450)


def test_large_pages_shrink_to_the_device_width_keeping_their_shape() -> None:
    with Image.new("RGB", (2000, 1000), "white") as image:
        encoded, extension = render_for_width(image, 750)

    with Image.open(io.BytesIO(encoded)) as rendered:
        assert (rendered.format, rendered.size) == ("JPEG", (750, 375))
    assert extension == "jpg"


def test_pages_with_see_through_pixels_stay_png_and_opaque_ones_become_jpeg() -> None:
    with Image.new("RGBA", (100, 100), (0, 0, 0, 0)) as see_through:
        encoded, extension = render_for_width(see_through, 750)
    with Image.open(io.BytesIO(encoded)) as rendered:
        assert (extension, rendered.format, rendered.mode) == ("png", "PNG", "RGBA")

    with Image.new("RGBA", (100, 100), (10, 20, 30, 255)) as opaque:
        _, extension = render_for_width(opaque, 750)
    assert extension == "jpg"


def test_a_palette_page_with_a_transparent_colour_counts_as_see_through() -> None:
    with Image.new("P", (40, 40), 0) as image:
        image.info["transparency"] = 0
        _, extension = render_for_width(image, 750)

    assert extension == "png"


def test_a_retried_size_report_rewrites_the_same_report(tmp_path: Path) -> None:
    save_image(tmp_path / "work" / "a.png", (900, 600), mode="RGBA", alpha=128)
    store = LocalArtifactStore(tmp_path / "outputs")
    producer = SizeReportProducer(store)
    job = job_for(tmp_path / "work", ("a.png",))

    first = producer.produce(job)
    second = producer.produce(job)

    assert first == second


def test_the_deployment_offers_web_and_size_report_producers(tmp_path: Path) -> None:
    producers = build_producers(LocalArtifactStore(tmp_path))

    assert set(producers) == {"web", "size_report"}
    assert all(name == producer.name for name, producer in producers.items())
