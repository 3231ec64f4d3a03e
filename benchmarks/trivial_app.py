"""The reference for benchmarks/api.py: a trivial FastAPI app serving canned JSON from memory.

    .venv/bin/python -m benchmarks.trivial_app BODIES.json --port 8123

BODIES.json holds {"detail": {...}, "status": {...}, "list": {...}}: bodies captured from our
server. The routes have our paths; the handlers are plain `def` like ours (so FastAPI runs them
in its thread pool too) and return a JSONResponse of the stored body: no store, no auth, no
middleware. It is served the way `migration-engine serve` serves the API (uvicorn.run, one
process, log_level "info" with the access log, logging.basicConfig at INFO), so that the
benchmark compares the application and not the server settings.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

ROOT = "/api/authoring/migration"


def create_app(bodies: dict[str, Any]) -> FastAPI:
    detail, status, page = bodies["detail"], bodies["status"], bodies["list"]
    app = FastAPI(title="Trivial reference")

    @app.get(ROOT + "/")
    def list_migrations() -> JSONResponse:
        return JSONResponse(page)

    @app.get(ROOT + "/{pk}/")
    def migration_detail(pk: str) -> JSONResponse:
        return JSONResponse(detail)

    @app.get(ROOT + "/{pk}/status/")
    def migration_status(pk: str) -> JSONResponse:
        return JSONResponse(status)

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bodies", type=Path, help="JSON file of the bodies to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    # As `serve` does before uvicorn.run (interface/cli/main.py).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(json.loads(args.bodies.read_text()))
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
