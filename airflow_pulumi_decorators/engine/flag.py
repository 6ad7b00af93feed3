"""A thread flag that a signal handler may interrupt: :class:`Flag`.

``threading.Event`` holds a lock while it waits and while it is set. Airflow's task timeout raises
``AirflowTaskTimeout`` from a SIGALRM handler in the thread that waits for the engine; landing while that
lock is held leaves it held, and the engine's stop (which waits on the same event) then deadlocks the task
forever. A flag read and written under the GIL and waited for by short sleeps has no lock to leave behind.
"""

from __future__ import annotations

import time

#: How often a waiting thread looks at the flag (seconds).
POLL = 0.02


class Flag:
    """``set`` / ``clear`` / ``is_set`` / ``wait`` as ``threading.Event`` has them, without a lock."""

    def __init__(self) -> None:
        self._value = False

    def set(self) -> None:
        self._value = True

    def clear(self) -> None:
        self._value = False

    def is_set(self) -> bool:
        return self._value

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the flag is set or ``timeout`` seconds passed; returns whether it is set.

        :param timeout: seconds; ``None`` waits for ever.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._value:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return self._value
            time.sleep(POLL if left is None else min(POLL, left))
        return True
