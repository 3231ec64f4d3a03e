"""The size_report output: bytes of each page and of each device package, per device size."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any, cast

from PIL import Image

from application.ports import OutputJob, ProducedOutput
from interface.storage.artifacts import LocalArtifactStore

DEVICE_WIDTHS = {"phone": 750, "tablet": 1536, "desktop": 2560}
JPEG_QUALITY = 85
# A fixed timestamp keeps package bytes identical from one run to the next.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class SizeReportProducer:
    """Renders every page at each device width and reports what it weighs."""

    name: str = "size_report"

    def __init__(self, store: LocalArtifactStore) -> None:
        self._store = store

    def produce(self, job: OutputJob) -> ProducedOutput:
        root = Path(job.work.root)
        buffers = {device: io.BytesIO() for device in DEVICE_WIDTHS}
        packages = {
            # Page images are already compressed; deflating them again gains nothing.
            device: zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED)
            for device, buffer in buffers.items()
        }
        assets_bytes = dict.fromkeys(DEVICE_WIDTHS, 0)
        pages: list[dict[str, Any]] = []
        try:
            for number, page in enumerate(job.work.pages, start=1):
                data = (root / page).read_bytes()
                sizes: dict[str, int] = {}
                with Image.open(io.BytesIO(data)) as image:
                    source_width, source_height = image.size
                    for device, width in DEVICE_WIDTHS.items():
                        encoded, extension = render_for_width(image, width)
                        sizes[device] = len(encoded)
                        assets_bytes[device] += len(encoded)
                        member = zipfile.ZipInfo(f"pages/{number:03d}.{extension}", _ZIP_DATE)
                        packages[device].writestr(member, encoded)
                pages.append(
                    {
                        "path": page,
                        "source_bytes": len(data),
                        "width": source_width,
                        "height": source_height,
                        "sizes": sizes,
                    }
                )
        finally:
            for package in packages.values():
                package.close()
        summary = {
            "source_bytes": sum(entry["source_bytes"] for entry in pages),
            "devices": {
                device: {
                    "width": width,
                    "assets_bytes": assets_bytes[device],
                    "package_bytes": len(buffers[device].getvalue()),
                }
                for device, width in DEVICE_WIDTHS.items()
            },
        }
        report = {
            "migration_id": job.migration_id,
            "work": {"id": job.work.work_id, "name": job.work.name, "sub_name": job.work.sub_name},
            **summary,
            "pages": pages,
        }
        stored = self._store.write(
            f"{job.migration_id}/size_report/report.json",
            json.dumps(report, indent=2).encode("utf-8"),
        )
        return ProducedOutput(
            value={
                "url": stored.url,
                "bytes": stored.bytes,
                "sha256": stored.sha256,
                "report": summary,
            }
        )


def render_for_width(image: Image.Image, width: int) -> tuple[bytes, str]:
    """Encode `image` no wider than `width` (never upscaled): PNG if it has alpha, else JPEG."""
    transparent = _has_transparency(image)
    if transparent:
        converted = image.convert("RGBA") if image.mode not in ("RGBA", "LA") else image.copy()
    else:
        converted = image.convert("RGB") if image.mode not in ("RGB", "L") else image.copy()
    with converted:
        if converted.width > width:
            height = max(1, round(converted.height * width / converted.width))
            resized = converted.resize((width, height), Image.Resampling.LANCZOS)
        else:
            resized = converted.copy()
        with resized:
            out = io.BytesIO()
            if transparent:
                resized.save(out, format="PNG", optimize=True)
                return out.getvalue(), "png"
            resized.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
            return out.getvalue(), "jpg"


def _has_transparency(image: Image.Image) -> bool:
    """True when some pixel is not fully opaque; an unused alpha channel does not count."""
    if image.mode in ("RGBA", "LA", "PA"):
        alpha = image.getchannel("A")
    elif "transparency" in image.info:
        with image.convert("RGBA") as rgba:
            alpha = rgba.getchannel("A")
    else:
        return False
    with alpha:
        # A single band gives (min, max) as numbers.
        extrema = cast(tuple[int, int], alpha.getextrema())
    return extrema[0] < 255
