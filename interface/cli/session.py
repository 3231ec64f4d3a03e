"""One command's runtime: a refused request prints its reason and exits 1; always closed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from application.errors import ApplicationError
from application.settings import Settings
from domain.errors import DomainError
from interface.runtime import Runtime, build_runtime
from interface.storage.work_bundles import BundleError

errors = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/] {message}")
    return typer.Exit(1)


@contextmanager
def command_runtime(
    settings: Settings | None = None, *, with_executor: bool = False
) -> Iterator[Runtime]:
    runtime = build_runtime(settings or Settings(), with_executor=with_executor)
    try:
        yield runtime
    except (ApplicationError, DomainError, BundleError) as error:
        raise fail(str(error)) from None
    finally:
        runtime.close()
