"""What every read model's projection does: catch up from the log in batches, exactly once and
in order (tracking records), keep current by polling, wait for a position, rebuild, check drift."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

from eventsourcing.persistence import IntegrityError, Notification

from application.event_log import EventLog
from application.read_models.generations import DROP_AFTER_SECONDS, GenerationalView

logger = logging.getLogger(__name__)

View = TypeVar("View", bound=GenerationalView)


@dataclass(frozen=True)
class Rebuilt:
    name: str
    generation: int
    events: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Drift:
    key: str
    problem: str


class TrackedProjection(ABC, Generic[View]):
    """A read model kept by folding the log's events (of `topics`) into `view`."""

    name: str
    topics: tuple[str, ...]

    def __init__(self, log: EventLog, view: View, batch_size: int = 500) -> None:
        self.log = log
        self.view = view
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._caught_up = threading.Condition()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.inline = True
        """False when a separate projector process keeps this view: then only wait, never fold."""
        self._folded = 0
        """The last position this process knows folded (the store may be further on)."""

    @abstractmethod
    def fold(self, notifications: Sequence[Notification], events: Sequence[Any]) -> None:
        """Apply one batch of events to the view, with the batch's last position, atomically."""

    @abstractmethod
    def drift(self, sample: int | None) -> list[Drift]:
        """Rows that differ from a re-fold of their aggregates (all, or a random sample)."""

    @abstractmethod
    def with_view(self, view: View) -> Self:
        """The same projection writing into another view (a new generation)."""

    @property
    def position(self) -> int:
        position = self.view.position
        self._folded = max(self._folded, position)
        return position

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Apply every event not yet applied; returns how many were applied."""
        applied = 0
        with self._lock:
            self.view.refresh()
            while True:
                notifications = self.log.recorder.select_notifications(
                    start=self.position + 1, limit=self.batch_size, topics=self.topics
                )
                if not notifications:
                    break
                self.fold(
                    notifications, [self.log.mapper.to_domain_event(n) for n in notifications]
                )
                applied += len(notifications)
                if progress is not None:
                    progress(notifications[-1].id)
        with self._caught_up:
            self._caught_up.notify_all()
        return applied

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until the view includes the event at `position` (read-your-writes), bounded.

        With the polling thread running, requests only wake it and wait: one fold serves every
        request waiting, instead of each taking the fold lock in turn."""
        deadline = time.monotonic() + timeout
        polled = self._thread is not None and self._thread.is_alive()
        while self._folded < position and self.position < position:
            if not self.inline or polled:
                self.poke()
            else:
                # IntegrityError: another process applied the same events first; re-read.
                with contextlib.suppress(IntegrityError):
                    self.catch_up()
                if self._folded >= position:
                    break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._caught_up:
                if self._folded < position:
                    self._caught_up.wait(min(remaining, 0.05))
        return True

    def rebuild(self, progress: Callable[[int], None] | None = None) -> Rebuilt:
        """Fold the whole log into a new generation, then switch readers to it and drop the old.

        Readers keep using the current generation until the switch; events that arrive during
        the rebuild are folded into the new one before and after it."""
        old = self.view.refresh(force=True)
        new = old + 1
        self.view.create_generation(new)
        target = self.with_view(self.view.sibling(new))
        target.batch_size = max(self.batch_size, 5000)
        started = time.perf_counter()
        events = target.catch_up(progress)
        seconds = time.perf_counter() - started
        target.view.analyze(new)
        with self._lock:
            events += target.catch_up(progress)
            self.view.switch(new)
        time.sleep(DROP_AFTER_SECONDS)  # readers elsewhere move over within REFRESH_SECONDS
        self.view.drop_generation(old)
        return Rebuilt(self.name, new, events, seconds)

    def run_polling(self, interval: float) -> None:
        """Keep the view current from a background thread, polling the log every `interval`."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.catch_up()
                except IntegrityError:
                    pass  # another process projected the same events: the next pass re-reads
                except Exception:  # a transient store error must not end the loop
                    logger.exception("projection %s failed; retrying", self.name)
                    time.sleep(interval)
                self._wake.wait(interval)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name=f"projection-{self.name}", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Wake the polling loop now (after a write this process made)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
