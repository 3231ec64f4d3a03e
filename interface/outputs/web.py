"""The web output: a static HTML5 reader (index.html, script.json, page images) for a work."""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from typing import Any

from PIL import Image

from application.ports import OutputJob, ProducedOutput
from interface.storage.artifacts import LocalArtifactStore

_EXTENSIONS = {"PNG": "png", "JPEG": "jpg"}


class WebReaderProducer:
    """Writes the reader under `<migration_id>/web/`; every URL inside it is relative."""

    name: str = "web"

    def __init__(self, store: LocalArtifactStore) -> None:
        self._store = store

    def produce(self, job: OutputJob) -> ProducedOutput:
        prefix = f"{job.migration_id}/web"
        root = Path(job.work.root)
        total = 0
        pages: list[dict[str, Any]] = []
        for index, page in enumerate(job.work.pages):
            data = (root / page).read_bytes()
            extension, width, height = _describe(page, data)
            image = f"pages/{index + 1:03d}.{extension}"
            total += self._store.write(f"{prefix}/{image}", data).bytes
            pages.append({"index": index, "image": image, "width": width, "height": height})
        script = {
            "work": {"id": job.work.work_id, "name": job.work.name, "sub_name": job.work.sub_name},
            "pages": pages,
        }
        script_bytes = json.dumps(script, indent=2).encode("utf-8")
        stored_script = self._store.write(f"{prefix}/script.json", script_bytes)
        # index.html goes last: once it exists, everything it loads exists too.
        index_html = render_index(job.work.name, job.work.sub_name).encode("utf-8")
        stored_index = self._store.write(f"{prefix}/index.html", index_html)
        total += stored_script.bytes + stored_index.bytes
        return ProducedOutput(
            value={
                "url": stored_index.url,
                "bytes": total,
                "sha256": stored_index.sha256,
                "pages": len(pages),
            },
            web_script=stored_script.url,
        )


def _describe(page: str, data: bytes) -> tuple[str, int, int]:
    """The file extension and pixel size of a page image."""
    with Image.open(io.BytesIO(data)) as image:
        extension = _EXTENSIONS.get(image.format or "")
        if extension is None:
            raise ValueError(f"page '{page}' is not a PNG or JPEG image")
        return extension, image.width, image.height


def render_index(name: str, sub_name: str) -> str:
    """The reader page; it fetches script.json beside it and shows one page at a time."""
    title = f"{name} — {sub_name}" if sub_name else name
    return _INDEX_HTML.replace("__TITLE__", html.escape(title))


_INDEX_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
  html, body { margin: 0; height: 100%; background: #111; color: #eee;
               font-family: system-ui, sans-serif; }
  body { display: flex; flex-direction: column; }
  header, nav { display: flex; align-items: center; justify-content: space-between;
                gap: 1rem; padding: 0.5rem 1rem; }
  h1 { font-size: 1rem; font-weight: 600; margin: 0; }
  main { flex: 1; min-height: 0; display: flex; align-items: center; justify-content: center; }
  main img { max-width: 100%; max-height: 100%; object-fit: contain; }
  button { font: inherit; padding: 0.4rem 1rem; }
</style>
</head>
<body>
<header><h1>__TITLE__</h1><span id="counter" aria-live="polite">Loading…</span></header>
<main><img id="page" alt=""></main>
<nav>
  <button id="prev" type="button" disabled>&larr; Previous</button>
  <button id="next" type="button" disabled>Next &rarr;</button>
</nav>
<script>
(() => {
  const img = document.getElementById("page");
  const counter = document.getElementById("counter");
  const prev = document.getElementById("prev");
  const next = document.getElementById("next");
  let pages = [];
  let current = 0;

  function show(i) {
    if (i < 0 || i >= pages.length) return;
    current = i;
    img.src = pages[i].image;
    img.alt = `Page ${i + 1} of ${pages.length}`;
    counter.textContent = `${i + 1} / ${pages.length}`;
    prev.disabled = i === 0;
    next.disabled = i === pages.length - 1;
    history.replaceState(null, "", `#${i + 1}`);
    if (i + 1 < pages.length) new Image().src = pages[i + 1].image;
  }

  prev.addEventListener("click", () => show(current - 1));
  next.addEventListener("click", () => show(current + 1));
  document.addEventListener("keydown", (event) => {
    if (event.key === "ArrowLeft") show(current - 1);
    else if (event.key === "ArrowRight") show(current + 1);
  });

  fetch("script.json")
    .then((response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response.json();
    })
    .then((script) => {
      pages = script.pages;
      const start = parseInt(location.hash.slice(1), 10);
      show(Number.isInteger(start) ? Math.min(Math.max(start, 1), pages.length) - 1 : 0);
    })
    .catch((error) => {
      counter.textContent = `Could not load the reader: ${error.message}`;
    });
})();
</script>
</body>
</html>
"""
