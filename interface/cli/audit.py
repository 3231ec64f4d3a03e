"""`migration-engine audit`: replay a migration as a timeline, export the log, verify it."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from application.settings import Settings
from application.users import Caller
from interface.cli.session import command_runtime, errors
from interface.runtime import build_runtime

app = typer.Typer(
    help="Audit the event log: timelines, export, verification.", no_args_is_help=True
)
console = Console(soft_wrap=True)

AUDITOR = Caller(user_id="cli:auditor", role="admin")


def _progress(out: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=out,
    )


def describe(entry_type: str, data: dict[str, Any]) -> str:
    """One line saying what an event means, for people."""
    kind = entry_type.removeprefix("migration.")
    if kind == "created":
        wanted = [name for name, on in data["features"].items() if on]
        return f"requested by {data['requester_id']}: {', '.join(wanted) or 'no outputs'}"
    if kind == "started":
        return f"attempt {data['attempt']} started by {data['host']}/{data['pid']}"
    if kind == "output_produced":
        value = data.get("value") or {}
        size = f" ({value['bytes']} bytes)" if isinstance(value.get("bytes"), int) else ""
        return f"output {data['name']} produced{size}"
    if kind == "retry_scheduled":
        return f"attempt {data['attempt']} failed: {data['error']}; retry at {data['retry_at']}"
    if kind == "failed":
        return f"failed: {data['error']}" + (
            f" (output {data['output']})" if data["output"] else ""
        )
    if kind == "completed":
        return "completed"
    if kind == "revoked":
        reason = f": {data['reason']}" if data.get("reason") else ""
        return f"revoked by {data['by']}{reason}"
    if kind == "retry_requested":
        return f"retry requested by {data['by']}"
    return json.dumps(data)


@app.command("show")
def show(migration_id: str) -> None:
    """A migration's history as a timeline: who, which worker, each output, retry and failure."""
    with command_runtime() as runtime:
        page = runtime.engine.audit.history(AUDITOR, migration_id, limit=100_000)
    table = Table(title=f"{migration_id}: {page.count} events")
    for column in ("v", "time (UTC)", "+", "event"):
        table.add_column(column, no_wrap=True)
    table.add_column("what happened")
    previous: datetime | None = None
    for entry in page.entries:
        moment = datetime.fromisoformat(entry.timestamp.replace("Z", "+00:00"))
        step = "" if previous is None else f"+{(moment - previous).total_seconds():.3f}s"
        previous = moment
        table.add_row(
            str(entry.version),
            entry.timestamp,
            step,
            entry.type,
            describe(entry.type, entry.data),
        )
    console.print(table)


@app.command("export")
def export(
    since: Annotated[
        datetime | None, typer.Option(help="Only events at or after this time (UTC).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Stream the whole log as JSON Lines: one event per line, with its global position."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # the help says UTC
    runtime = build_runtime(Settings(), with_executor=False)
    stream = out.open("w", encoding="utf-8") if out is not None else sys.stdout
    try:
        audit = runtime.engine.audit
        with _progress(errors) as progress:
            task = progress.add_task("exporting", total=audit.head, rate="")
            for record in audit.export(since=since):
                stream.write(json.dumps(record, separators=(",", ":")) + "\n")
                progress.update(task, completed=record["position"])
            progress.update(task, completed=audit.head)
    finally:
        if out is not None:
            stream.close()
        runtime.close()


@app.command("verify")
def verify() -> None:
    """Re-fold every migration: legal transitions, unbroken hash chains, read models agreeing."""
    runtime = build_runtime(Settings(), with_executor=False)
    try:
        audit = runtime.engine.audit
        total = sum(1 for _ in audit.migration_ids())
        with _progress(errors) as progress:
            task = progress.add_task("verifying", total=total, rate="")
            report = audit.verify(progress=lambda n: progress.advance(task, n))
    finally:
        runtime.close()
    console.print(
        f"{report.migrations} migrations, {report.events} events, "
        f"{report.unchained_events} written before the hash chain (unchained)"
    )
    for migration_id, version, reason in report.illegal:
        console.print(f"[red]illegal[/] {migration_id} version {version}: {reason}")
    for migration_id, version, topic in report.broken_chain:
        console.print(f"[red]chain broken[/] {migration_id} version {version} ({topic})")
    for migration_id, reason in report.drift:
        console.print(f"[red]drift[/] {migration_id}: {reason}")
    if not report.clean:
        raise typer.Exit(1)
    console.print("[green]ok[/]: the log is consistent and the read models agree with it")
