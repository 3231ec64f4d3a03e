"""OPTIONS answers as DRF gave them: an Allow header and the view's name and description."""

from __future__ import annotations

from fastapi.responses import JSONResponse


def options_response(name: str, description: str, allowed: list[str]) -> JSONResponse:
    return JSONResponse(
        {
            "name": name,
            "description": description,
            "renders": ["application/json"],
            "parses": ["application/json"],
        },
        headers={"Allow": ", ".join(allowed)},
    )
