"""Request dependencies: the running engine and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from application.engine import Engine
from application.errors import NotAuthenticatedError
from application.users import Caller
from interface.runtime import Runtime

SESSION_COOKIE = "sessionid"


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_engine(request: Request) -> Engine:
    return get_runtime(request).engine


def bearer_token(request: Request) -> str | None:
    """The token from `Authorization: Bearer ...`, else from the session cookie."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticatedError("Invalid Authorization header: use 'Bearer <token>'.")
        return token.strip()
    return request.cookies.get(SESSION_COOKIE)


def get_caller(request: Request, engine: Annotated[Engine, Depends(get_engine)]) -> Caller:
    token = bearer_token(request)
    if not token:
        raise NotAuthenticatedError("Authentication credentials were not provided.")
    return engine.users.authenticate(token)


EngineDep = Annotated[Engine, Depends(get_engine)]
CallerDep = Annotated[Caller, Depends(get_caller)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
