"""The one settings object: environment variables prefixed MIGRATION_ENGINE_, read once."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from application.retry_policy import RetryPolicy

APP_NAME = "migration_engine"


class Settings(BaseSettings):
    """Configuration of the engine; every field is documented in the README."""

    model_config = SettingsConfigDict(env_prefix="MIGRATION_ENGINE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./data/engine.db",
        description="Event store: sqlite:///PATH, postgresql://user@host:port/db or memory://",
    )
    data_dir: Path = Field(default=Path("./data"), description="Works and output artifacts.")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, validation_alias="PORT")
    workers: int = Field(default=4, ge=1, le=64, description="In-process executor threads.")
    max_body_bytes: int = Field(default=1_048_576, description="Largest JSON request body.")
    max_upload_bytes: int = Field(default=200 * 1_048_576, description="Largest work upload.")
    read_your_writes_timeout: float = Field(default=5.0, ge=0)
    projection_poll_interval: float = Field(default=0.2, gt=0)
    aggregate_cache_size: int = Field(
        default=10_000,
        ge=0,
        description="Aggregates kept in memory per process (fast-forwarded from the log on use).",
    )
    postgres_pool_size: int = Field(
        default=4, ge=1, description="PostgreSQL connections each process opens at start."
    )
    postgres_max_overflow: int = Field(
        default=16, ge=0, description="More connections a busy process may open beyond those."
    )
    demo: bool = Field(default=False, description="Load a demo author and the sample work.")
    projections: Literal["inline", "external"] = Field(
        default="inline",
        description="inline: the API keeps read models current; external: `projector` does.",
    )
    producers: str = Field(
        default="interface.outputs:build_producers",
        description="module:function building the output producers from the artifact store.",
    )
    broker_url: str = Field(
        default="",
        description="Celery broker (redis://... or amqp://...); empty runs migrations in-process.",
    )
    queue: str = Field(default="migrations", description="Celery queue migrations are sent to.")
    retry_max_attempts: int = Field(default=5, ge=1, le=100)
    retry_initial_interval: float = Field(default=2.0, ge=0)
    retry_backoff_coefficient: float = Field(default=2.0, ge=1)
    retry_max_interval: float = Field(default=300.0, ge=0)
    retry_jitter: float = Field(default=0.2, ge=0, le=1)
    lease_ttl: float = Field(default=30.0, gt=0, description="Seconds a silent attempt is alive.")
    sweep_interval: float = Field(default=5.0, gt=0)
    stale_after: float = Field(
        default=300.0, gt=0, description="Seconds before an undelivered migration is sent again."
    )
    public_host: str | None = Field(default=None, description="Host name shown in status views.")

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in {"sqlite", "postgresql", "postgres", "memory"}:
            raise ValueError("database_url must start with sqlite://, postgresql:// or memory://")
        return value

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in {"redis", "rediss", "amqp", "amqps"}:
            raise ValueError("broker_url must start with redis:// or amqp://, or be empty")
        return value

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.retry_max_attempts,
            initial_interval=self.retry_initial_interval,
            backoff_coefficient=self.retry_backoff_coefficient,
            max_interval=self.retry_max_interval,
            jitter=self.retry_jitter,
        )

    @property
    def works_dir(self) -> Path:
        return self.data_dir / "works"

    @property
    def outputs_dir(self) -> Path:
        return self.data_dir / "outputs"

    @property
    def backend(self) -> str:
        scheme = urlsplit(self.database_url).scheme
        return "postgres" if scheme in {"postgresql", "postgres"} else scheme

    def event_store_env(self) -> dict[str, str]:
        """The eventsourcing environment for the event log."""
        env = self._env(view=False)
        if self.aggregate_cache_size:
            # Fast-forwarding reads the events after the cached version: never stale.
            env["AGGREGATE_CACHE_MAXSIZE"] = str(self.aggregate_cache_size)
            env["AGGREGATE_CACHE_FASTFORWARD"] = "y"
        return env

    def read_model_env(self) -> dict[str, str]:
        """The eventsourcing environment for the read models (their own file on SQLite)."""
        return self._env(view=True)

    def _env(self, *, view: bool) -> dict[str, str]:
        url = urlsplit(self.database_url)
        if url.scheme == "memory":
            # The popo store has no SQL views: read models go to a shared in-memory SQLite db.
            name = url.netloc or "default"
            if view:
                return {
                    "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                    "SQLITE_DBNAME": f"file:{name}-views?mode=memory&cache=shared",
                }
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        if url.scheme == "sqlite":
            path = unquote(url.path)
            if url.netloc:  # sqlite://relative/path is not a path we understand
                path = url.netloc + path
            if path.startswith("/./") or path.startswith("/../"):
                path = path[1:]
            if view:
                stem = path[:-3] if path.endswith(".db") else path
                path = f"{stem}-views.db"
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": path,
                "SQLITE_LOCK_TIMEOUT": "10",
            }
        query = parse_qs(url.query)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            # The read models and leases need few connections; the log takes the configured pool.
            "POSTGRES_POOL_SIZE": str(1 if view else self.postgres_pool_size),
            "POSTGRES_MAX_OVERFLOW": str(
                self.postgres_max_overflow // 2 if view else self.postgres_max_overflow
            ),
            "POSTGRES_CONNECT_TIMEOUT": "10",
            # Not POSTGRES_ENABLE_DB_FUNCTIONS: its insert function skips the table lock, so
            # concurrent writers can commit positions out of order and a projection skip events.
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.works_dir, self.outputs_dir):
            path.mkdir(parents=True, exist_ok=True)
