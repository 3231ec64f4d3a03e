"""The Migration aggregate: one deployment of a work, as the sequence of what happened to it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from domain.chain import link
from domain.errors import IllegalTransitionError, InvalidFeatureError, OutputError

FEATURES = ("size_report", "stash", "deviant_art", "web", "video", "youtube")
"""The seed's feature keys, in the seed's order."""

OUTPUTS = ("web", "stash", "video", "youtube", "size_report")
"""The seed's output keys; a feature of the same name asks for the output."""

FEATURE_DEFAULTS: dict[str, bool | None] = {"deviant_art": False}
"""A feature left out of a request: the seed shows deviant_art false and the others null."""

MIGRATION_TYPES = ("deployment",)


class Status(StrEnum):
    PENDING = "PENDING"
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    RETRY = "RETRY"
    REVOKED = "REVOKED"


TERMINAL = frozenset({Status.SUCCESS, Status.FAILURE, Status.REVOKED})
UNFINISHED = frozenset({Status.PENDING, Status.STARTED, Status.RETRY})


def check_features(features: Mapping[str, Any]) -> dict[str, bool | None]:
    """Every seed feature key, defaulted where not given; unknown keys and non-booleans refused."""
    unknown = sorted(set(features) - set(FEATURES))
    if unknown:
        raise InvalidFeatureError(
            f"unknown feature(s): {', '.join(unknown)} (known: {', '.join(FEATURES)})"
        )
    checked: dict[str, bool | None] = {}
    for name in FEATURES:
        value = features.get(name, FEATURE_DEFAULTS.get(name))
        if value is not None and not isinstance(value, bool):
            raise InvalidFeatureError(f"feature '{name}' must be true, false or null")
        checked[name] = value
    return checked


def requested_outputs(features: Mapping[str, bool | None]) -> tuple[str, ...]:
    return tuple(name for name in OUTPUTS if features.get(name))


class Migration(Aggregate):
    """A deployment job: created PENDING, started by a worker, producing outputs, then ended."""

    TOPIC = "migration"

    class Event(Aggregate.Event):
        """Base of the migration's events: each carries its link in the audit hash chain."""

        TOPIC = "migration.event"
        class_version = 2
        chain: str | None
        """sha256 over this event and the previous event's chain; None before chains existed."""

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["chain"] = None  # written before the chain existed: loads, reported unchained

        def apply(self, aggregate: Any) -> None:
            aggregate.chain_head = self.chain

    @classmethod
    def _create(cls, event_class: type[Any], *, id: UUID | None = None, **kwargs: Any) -> Migration:
        kwargs["timestamp"] = event_class.create_timestamp()
        kwargs["chain"] = link(
            None, event_class.TOPIC, cls.INITIAL_VERSION, kwargs["timestamp"], kwargs
        )
        return super()._create(event_class, id=id, **kwargs)

    def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None:
        kwargs["timestamp"] = event_class.create_timestamp()
        kwargs["chain"] = link(
            self.chain_head, event_class.TOPIC, self.version + 1, kwargs["timestamp"], kwargs
        )
        super().trigger_event(event_class, **kwargs)

    @staticmethod
    def create_id(idempotency_key: str | None, requester_id: str | None) -> UUID:
        # A keyed create gets a deterministic id, so a second save of the same key conflicts.
        if idempotency_key:
            return uuid5(NAMESPACE_URL, f"/migrations/{requester_id}/{idempotency_key}")
        return uuid4()

    @classmethod
    def request(
        cls,
        *,
        work: Mapping[str, str],
        requester_id: str | None,
        features: Mapping[str, Any],
        type: str = "deployment",
        primary: bool = True,
        encrypted: bool = True,
        unencrypted: bool = False,
        project_id: str | None = None,
        master_project_id: str | None = None,
        idempotency_key: str | None = None,
        request_digest: str | None = None,
    ) -> Migration:
        """Ask for a deployment of `work`; the features say which outputs to produce."""
        checked = check_features(features)
        if type not in MIGRATION_TYPES:
            raise InvalidFeatureError(
                f"type '{type}' is not supported (supported: {', '.join(MIGRATION_TYPES)})"
            )
        return cls(
            work=dict(work),
            requester_id=requester_id,
            features=checked,
            type=type,
            primary=primary,
            encrypted=encrypted,
            unencrypted=unencrypted,
            project_id=project_id,
            master_project_id=master_project_id,
            task_id=str(uuid4()),
            idempotency_key=idempotency_key,
            request_digest=request_digest,
        )

    @event("Created", topic="migration.created")
    def __init__(
        self,
        *,
        work: dict[str, str],
        requester_id: str | None,
        features: dict[str, bool | None],
        type: str,
        primary: bool,
        encrypted: bool,
        unencrypted: bool,
        project_id: str | None,
        master_project_id: str | None,
        task_id: str,
        idempotency_key: str | None,
        request_digest: str | None,
    ) -> None:
        self.work = work
        self.requester_id = requester_id
        self.features = features
        self.type = type
        self.primary = primary
        self.encrypted = encrypted
        self.unencrypted = unencrypted
        self.project_id = project_id
        self.master_project_id = master_project_id
        self.task_id = task_id
        self.idempotency_key = idempotency_key
        self.request_digest = request_digest
        self.status = Status.PENDING.value
        self.attempts = 0
        self.host: str | None = None
        self.pid: int | None = None
        self.worker_id: str | None = None
        self.outputs: dict[str, dict[str, Any]] = {}
        self.web_script: str | None = None
        self.error: str | None = None
        self.failed_output: str | None = None
        self.retry_at: datetime | None = None
        self.revoked_by: str | None = None
        self.revoke_reason: str | None = None
        self.chain_head: str | None = None

    # Queries ----------------------------------------------------------------

    @property
    def requested_outputs(self) -> tuple[str, ...]:
        return requested_outputs(self.features)

    @property
    def missing_outputs(self) -> tuple[str, ...]:
        return tuple(name for name in self.requested_outputs if name not in self.outputs)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    # Commands ---------------------------------------------------------------

    def start(self, *, host: str, pid: int, worker_id: str, takeover: bool = False) -> None:
        """Begin an attempt on this host; `takeover` restarts an attempt whose worker is gone."""
        allowed = {Status.PENDING, Status.RETRY} | ({Status.STARTED} if takeover else set())
        self._require(allowed, "start")
        self._started(
            task_id=self.task_id, attempt=self.attempts + 1, host=host, pid=pid, worker_id=worker_id
        )

    def record_output(
        self, name: str, value: dict[str, Any], web_script: str | None = None
    ) -> None:
        """Record that output `name` was produced; each requested output is produced once."""
        self._require({Status.STARTED}, f"record output '{name}'")
        if name not in self.requested_outputs:
            raise OutputError(f"output '{name}' was not requested by {self.public_id}")
        if name in self.outputs:
            raise OutputError(f"output '{name}' of {self.public_id} was already produced")
        self._output_produced(name=name, value=value, web_script=web_script)

    def schedule_retry(self, *, error: str, output: str | None, retry_at: datetime) -> None:
        """The attempt failed for a passing reason; try again at `retry_at`."""
        self._require({Status.STARTED}, "schedule a retry")
        self._retry_scheduled(attempt=self.attempts, error=error, output=output, retry_at=retry_at)

    def fail(self, *, error: str, output: str | None = None) -> None:
        """The migration cannot succeed: it ends in FAILURE with `error`."""
        self._require(set(UNFINISHED), "fail")
        self._failed(error=error, output=output, attempt=self.attempts, retryable=False)

    def complete(self) -> None:
        """Every requested output is produced: the migration ends in SUCCESS."""
        self._require({Status.STARTED}, "complete")
        if self.missing_outputs:
            raise OutputError(
                f"cannot complete {self.public_id}: output(s) "
                f"{', '.join(self.missing_outputs)} not produced"
            )
        self._completed(result=True)

    def revoke(self, *, by: str | None, reason: str | None = None) -> None:
        """Cancel the migration: no further output is produced."""
        self._require(set(UNFINISHED), "revoke")
        self._revoked(by=by, reason=reason)

    def request_retry(self, *, by: str | None) -> None:
        """Run a failed migration again; outputs already produced are kept."""
        self._require({Status.FAILURE}, "retry")
        self._retry_requested(by=by)

    # Events: they only mutate state, because they are re-run on every replay.

    @event("Started", topic="migration.started")
    def _started(self, task_id: str, attempt: int, host: str, pid: int, worker_id: str) -> None:
        self.status = Status.STARTED.value
        self.task_id = task_id
        self.attempts = attempt
        self.host = host
        self.pid = pid
        self.worker_id = worker_id
        self.error = None
        self.failed_output = None
        self.retry_at = None

    @event("OutputProduced", topic="migration.output_produced")
    def _output_produced(self, name: str, value: dict[str, Any], web_script: str | None) -> None:
        self.outputs[name] = value
        if web_script is not None:
            self.web_script = web_script

    @event("RetryScheduled", topic="migration.retry_scheduled")
    def _retry_scheduled(
        self, attempt: int, error: str, output: str | None, retry_at: datetime
    ) -> None:
        self.status = Status.RETRY.value
        self.error = error
        self.failed_output = output
        self.retry_at = retry_at

    @event("Failed", topic="migration.failed")
    def _failed(self, error: str, output: str | None, attempt: int, retryable: bool) -> None:
        self.status = Status.FAILURE.value
        self.error = error
        self.failed_output = output

    @event("Completed", topic="migration.completed")
    def _completed(self, result: bool) -> None:
        self.status = Status.SUCCESS.value

    @event("Revoked", topic="migration.revoked")
    def _revoked(self, by: str | None, reason: str | None) -> None:
        self.status = Status.REVOKED.value
        self.revoked_by = by
        self.revoke_reason = reason

    @event("RetryRequested", topic="migration.retry_requested")
    def _retry_requested(self, by: str | None) -> None:
        self.status = Status.PENDING.value
        self.error = None
        self.failed_output = None

    # ------------------------------------------------------------------------

    @property
    def public_id(self) -> str:
        return f"m-{self.id.hex}"

    def _require(self, allowed: set[Status], action: str) -> None:
        if self.status not in allowed:
            raise IllegalTransitionError(
                f"cannot {action} migration {self.public_id}: its status is {self.status}",
                status=self.status,
            )
