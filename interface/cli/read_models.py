"""`migration-engine read-models` and `projector`: lag, rebuild without downtime, drift checks."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Annotated

import typer
from eventsourcing.persistence import IntegrityError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from application.event_log import EventLog
from application.read_models.migration_list import MIGRATION_TOPICS
from application.read_models.operations import ReadModels
from application.settings import Settings
from interface.cli.session import command_runtime, errors
from interface.runtime import build_runtime

app = typer.Typer(help="Operate the read models (projections of the log).", no_args_is_help=True)
console = Console(soft_wrap=True)
logger = logging.getLogger(__name__)


@app.command("status")
def status() -> None:
    """Each read model's generation and position, the log's head, and the lag."""
    runtime = build_runtime(Settings(), with_executor=False)
    try:
        states = runtime.engine.read_models.status()
    finally:
        runtime.close()
    table = Table()
    for column in ("read model", "generation", "position", "log head", "lag"):
        table.add_column(column)
    for state in states:
        table.add_row(
            state.name, str(state.generation), str(state.position), str(state.head), str(state.lag)
        )
    console.print(table)


@app.command("rebuild")
def rebuild(
    name: Annotated[str | None, typer.Argument(help="One read model (default: all).")] = None,
) -> None:
    """Rebuild into new tables from the log, then switch readers over atomically."""
    with command_runtime() as runtime:
        read_models = runtime.engine.read_models
        head = runtime.engine.log.recorder.max_notification_id() or 0
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} events/s"),
            TimeElapsedColumn(),
            console=errors,
        ) as progress:
            tasks = {
                projection.name: progress.add_task(projection.name, total=head, rate="-")
                for projection in read_models.named(name)
            }
            started = time.perf_counter()

            def advance(model: str, position: int) -> None:
                rate = position / max(time.perf_counter() - started, 1e-6)
                progress.update(tasks[model], completed=position, rate=f"{rate:,.0f}")

            results = read_models.rebuild(name, advance)
    for result in results:
        console.print(
            f"{result.name}: generation {result.generation}, {result.events} events in "
            f"{result.seconds:.2f} s ({result.events_per_second:,.0f} events/s); readers switched"
        )


@app.command("verify")
def verify(
    name: Annotated[str | None, typer.Argument(help="One read model (default: all).")] = None,
    sample: Annotated[
        int | None, typer.Option(help="Check this many random rows (default: all).")
    ] = None,
) -> None:
    """Drift check: re-fold the aggregates behind stored rows and compare."""
    with command_runtime() as runtime, console.status("re-folding aggregates"):
        found = runtime.engine.read_models.verify(name, sample)
    drifted = 0
    for model, drift in found.items():
        for item in drift:
            console.print(f"[red]drift[/] {model} {item.key}: {item.problem}")
        drifted += len(drift)
        console.print(f"{model}: {len(drift)} drifted")
    if drifted:
        raise typer.Exit(1)


def projector(
    interval: Annotated[
        float, typer.Option(help="Polling interval where LISTEN is not had.")
    ] = 0.5,
) -> None:
    """Keep every read model current (set MIGRATION_ENGINE_PROJECTIONS=external for the API)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings()
    runtime = build_runtime(settings, with_executor=False)
    read_models = runtime.engine.read_models
    try:
        read_models.catch_up()
        if settings.backend == "postgres":
            _follow_notifications(runtime.engine.log, read_models)
        else:
            while True:  # SQLite has no subscriptions in eventsourcing 9.5: poll
                with contextlib.suppress(IntegrityError):
                    read_models.catch_up()
                time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()


def _follow_notifications(log: EventLog, read_models: ReadModels) -> None:
    """PostgreSQL LISTEN/NOTIFY: fold as soon as an event is recorded."""
    start = min(state.position for state in read_models.status())
    logger.info("projector following the log from position %d", start)
    with log.recorder.subscribe(gt=start, topics=MIGRATION_TOPICS) as subscription:
        for notification in subscription:
            if all(p.position >= notification.id for p in read_models.projections.values()):
                continue  # already folded by an earlier catch-up
            with contextlib.suppress(IntegrityError):
                read_models.catch_up()
