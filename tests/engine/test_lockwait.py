"""The lock wait's bookkeeping: back-off doubling up to a minute, never past lock_wait, attempts counted."""

from airflow_pulumi_decorators.engine.lockwait import MAX_DELAY, LockWait


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_back_off_doubles_up_to_a_minute_and_stops_at_lock_wait():
    clock = Clock()
    wait = LockWait(started=clock.now, lock_wait=200, delay=2, clock=clock)
    waits = []
    while (pause := wait.next_wait()) is not None:
        waits.append(pause)
        clock.now += pause
    assert waits == [2, 4, 8, 16, 32, 60, 60, 18]  # the last one ends exactly at lock_wait
    assert sum(waits) == 200 and wait.delay == MAX_DELAY


def test_no_lock_wait_means_no_retry_and_a_tiny_delay_is_raised():
    clock = Clock()
    assert LockWait(started=clock.now, lock_wait=0, delay=2, clock=clock).next_wait() is None
    assert LockWait(started=clock.now, lock_wait=-5, delay=2, clock=clock).next_wait() is None
    assert LockWait(started=clock.now, lock_wait=10, delay=0, clock=clock).next_wait() == 0.1


def test_attempts_and_time_waited_are_counted():
    clock = Clock()
    wait = LockWait(started=clock.now, lock_wait=10, delay=1, clock=clock)
    wait.attempt()
    wait.attempt()
    clock.now += 7.5
    assert wait.attempts == 2 and wait.waited == 7.5 and not wait.cancelled_stale


def test_a_lock_is_stale_only_when_it_refuses_two_attempts_in_a_row():
    wait = LockWait(started=0.0, lock_wait=0, delay=1)
    dead = ("worker-a", 80, "2026-12-06T10:41:43Z")
    assert not wait.stale_again(dead)  # the first time: maybe a holder that has just finished
    assert wait.stale_again(dead)  # still there on the next attempt: nothing will release it
    assert not wait.stale_again(("worker-b", 92, "2026-12-06T10:42:00Z"))  # another lock starts over
