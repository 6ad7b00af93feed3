"""The lock wait of one run: how long a run may wait for the stack lock (``lock_wait``), the back-off between
its attempts, how many it made, and whether it already cancelled a stale lock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: The longest back-off between two attempts, in seconds.
MAX_DELAY = 60.0


@dataclass
class LockWait:
    """Bookkeeping of the attempts of one run (times from ``clock``, ``time.monotonic`` by default).

    :param started: when the run started.
    :param lock_wait: seconds the run may keep retrying while the stack is locked.
    :param delay: the first back-off delay (at least 0.1 s); it doubles up to :data:`MAX_DELAY`.
    :param clock: the clock (a seam for tests).
    """

    started: float
    lock_wait: float
    delay: float
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    attempts: int = 0
    cancelled_stale: bool = False
    stale_seen: tuple[object, ...] | None = None

    def __post_init__(self) -> None:
        self.lock_wait = max(self.lock_wait, 0.0)
        self.delay = max(self.delay, 0.1)

    def attempt(self) -> None:
        """Count one more attempt."""
        self.attempts += 1

    @property
    def waited(self) -> float:
        """Seconds since the run started."""
        return self.clock() - self.started

    def stale_again(self, lock: tuple[object, ...]) -> bool:
        """Whether the lock ``lock`` (its host, pid and time) was already judged stale by the previous attempt.

        A holder that finished just after the engine was refused (its process gone, Airflow's record
        ``success``) looks exactly like a dead one; only a lock that refuses two attempts in a row is stale.
        """
        again = self.stale_seen == lock
        self.stale_seen = lock
        return again

    def next_wait(self) -> float | None:
        """How long to wait before the next attempt (and back off for the one after), or ``None`` when
        ``lock_wait`` is used up."""
        remaining = self.started + self.lock_wait - self.clock()
        if remaining <= 0:
            return None
        wait = min(self.delay, remaining)
        self.delay = min(self.delay * 2, MAX_DELAY)
        return wait
