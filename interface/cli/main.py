"""The migration-engine command: serve the API, manage users, import works."""

from __future__ import annotations

import getpass
import logging
import secrets
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from application.settings import Settings
from application.users import Caller
from interface.cli import audit, read_models
from interface.cli.session import command_runtime, errors, fail
from interface.runtime import build_runtime, ensure_demo
from interface.storage.work_bundles import read_bundle

app = typer.Typer(
    help="Event-sourced migration engine (Madefire authoring API).", no_args_is_help=True
)
users_app = typer.Typer(help="Manage users and their API tokens.", no_args_is_help=True)
works_app = typer.Typer(help="Import works (comic bundles).", no_args_is_help=True)
migrations_app = typer.Typer(help="Operate on migrations (as an admin).", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(works_app, name="works")
app.add_typer(migrations_app, name="migrations")
app.add_typer(audit.app, name="audit")
app.add_typer(read_models.app, name="read-models")
app.command("projector")(read_models.projector)

console = Console(soft_wrap=True)  # commands printed here must stay copyable


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default from settings).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: PORT, else 8000).")] = None,
    demo: Annotated[bool, typer.Option(help="Create a demo author and the sample work.")] = False,
) -> None:
    """Run the HTTP API with the in-process executor."""
    import uvicorn

    from interface.http.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings()
    runtime = build_runtime(settings)
    runtime.start()
    bind_host = host or settings.host
    bind_port = port or settings.port
    if demo or settings.demo:
        shown = ensure_demo(runtime)
        base = f"http://{bind_host}:{bind_port}"
        console.print(f"[bold]Demo author[/]: {shown.email} / {shown.password}")
        console.print(f"[bold]Demo work[/]: {shown.work_id}")
        console.print(f"[bold]Demo token[/]: {shown.token}")
        console.print(
            "Get another token: "
            f"curl -s -X POST {base}/signin/ -H 'Content-Type: application/json' "
            f'-d \'{{"email": "{shown.email}", "password": "{shown.password}"}}\''
        )
        console.print(
            "Deploy it: "
            f"curl -s -X POST {base}/api/authoring/migration/ "
            f"-H 'Authorization: Bearer {shown.token}' -H 'Content-Type: application/json' "
            f'-d \'{{"work_id": "{shown.work_id}", '
            '"features": {"web": true, "size_report": true}}\''
        )
    try:
        uvicorn.run(create_app(runtime=runtime), host=bind_host, port=bind_port, log_level="info")
    finally:
        runtime.close()


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Parallel migrations in this worker.")] = 2,
    queues: Annotated[
        str | None, typer.Option(help="Comma-separated queues (default: settings' queue).")
    ] = None,
    loglevel: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    pool: Annotated[str, typer.Option(help="prefork, threads or solo.")] = "prefork",
) -> None:
    """Run a Celery worker: it runs migrations and sweeps for dead attempts."""
    from interface.worker import celery_app

    settings = Settings()
    if not settings.broker_url:
        errors.print("[red]error:[/] set MIGRATION_ENGINE_BROKER_URL (redis://... or amqp://...)")
        raise typer.Exit(2)
    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    celery_app.runs_tasks_in_main_process = pool != "prefork"
    celery = celery_app.create_celery(settings)
    celery.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--queues={queues or settings.queue}",
            f"--loglevel={loglevel}",
            f"--pool={pool}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@users_app.command("create")
def create_user(
    email: str,
    role: Annotated[str, typer.Option(help="reader, author or admin.")] = "author",
    password: Annotated[str | None, typer.Option(help="Password (generated if not given).")] = None,
) -> None:
    """Create a user; prints its id and an API token."""
    chosen = password or secrets.token_urlsafe(12)
    with command_runtime() as runtime:
        user = runtime.engine.users.register(email, role, chosen)
        token = runtime.engine.users.issue_token(user.id)
    console.print(f"user id: {user.id}")
    console.print(f"role:    {user.role}")
    if password is None:
        console.print(f"password: {chosen}")
    console.print(f"token:   {token}")


@works_app.command("import")
def import_work(
    path: Annotated[Path, typer.Argument(help="A folder or .zip holding manifest.json and pages.")],
    owner: Annotated[str, typer.Option(help="Email of the owning author.")],
) -> None:
    """Register a work from a folder or zip; prints the work id."""
    with command_runtime() as runtime:
        user = runtime.engine.users.find(owner)
        if user is None:
            raise fail(f"no user with email {owner}")
        with console.status(f"reading {path}"):
            manifest, files = read_bundle(path)
        work = runtime.engine.works.register(Caller(user.id, user.role), manifest, files)
    console.print(f"work id: {work.id}")
    console.print(f"name:    {work.name} — {work.sub_name} ({len(work.pages)} pages)")


def main() -> None:
    app()


def _operator() -> Caller:
    """The CLI acts as an admin; events name the operating-system user."""
    return Caller(user_id=f"cli:{getpass.getuser()}", role="admin")


@migrations_app.command("status")
def migration_status(migration_id: str) -> None:
    """Print a migration's status view."""
    with command_runtime() as runtime:
        console.print_json(data=dict(runtime.engine.migrations.status(_operator(), migration_id)))


@migrations_app.command("revoke")
def revoke_migration(
    migration_id: str,
    reason: Annotated[str | None, typer.Option(help="Why, for the audit trail.")] = None,
) -> None:
    """Revoke a migration: recorded at once; a running attempt stops before its next output."""
    with command_runtime() as runtime:
        detail = runtime.engine.migrations.revoke(_operator(), migration_id, reason=reason)
    console.print(f"{detail['id']}: REVOKED")


@migrations_app.command("retry")
def retry_migration(migration_id: str) -> None:
    """Run a failed migration again, keeping the outputs it produced."""
    settings = Settings()
    with command_runtime(settings, with_executor=bool(settings.broker_url)) as runtime:
        detail = runtime.engine.migrations.retry(_operator(), migration_id)
    if settings.broker_url:
        console.print(f"{detail['id']}: PENDING, sent to the workers")
    else:
        console.print(
            f"{detail['id']}: PENDING; the embedded server runs it within "
            f"{settings.stale_after:g} s (POST .../retry/ to the API runs it at once)"
        )
