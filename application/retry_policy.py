"""When a failed attempt is tried again: exponential backoff with jitter, bounded attempts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """Retryable failures are retried up to `max_attempts` attempts in all (the first included)."""

    max_attempts: int = 5
    initial_interval: float = 2.0
    backoff_coefficient: float = 2.0
    max_interval: float = 300.0
    jitter: float = 0.2
    """Fraction of the delay added or removed at random, so retries of many migrations spread."""

    def allows_another(self, attempts_made: int) -> bool:
        return attempts_made < self.max_attempts

    def delay(self, attempts_made: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after attempt number `attempts_made` (1 for the first) failed."""
        base = self.initial_interval * self.backoff_coefficient ** max(attempts_made - 1, 0)
        base = min(base, self.max_interval)
        spread = base * self.jitter
        return max(0.0, base + (rng or random).uniform(-spread, spread))

    def retry_at(self, now: datetime, attempts_made: int) -> datetime:
        return now + timedelta(seconds=self.delay(attempts_made))
