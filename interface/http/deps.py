"""Request dependencies: the running engine and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from application.engine import Engine
from application.errors import NotAuthenticatedError
from application.users import Caller
from interface.runtime import Runtime

SESSION_COOKIE = "sessionid"


# Dependencies are `async def` so that they run on the event loop: a sync one costs each
# request a hop through the thread pool.


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.runtime.engine
    return engine


def bearer_token(request: Request) -> str | None:
    """The token from `Authorization: Bearer ...`, else from the session cookie."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticatedError("Invalid Authorization header: use 'Bearer <token>'.")
        return token.strip()
    return request.cookies.get(SESSION_COOKIE)


async def get_caller(request: Request, engine: Annotated[Engine, Depends(get_engine)]) -> Caller:
    token = bearer_token(request)
    if not token:
        raise NotAuthenticatedError("Authentication credentials were not provided.")
    cached = engine.users.cached(token)
    if cached is not None:
        return cached
    return await run_in_threadpool(engine.users.authenticate, token)  # reads the store


EngineDep = Annotated[Engine, Depends(get_engine)]
CallerDep = Annotated[Caller, Depends(get_caller)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
